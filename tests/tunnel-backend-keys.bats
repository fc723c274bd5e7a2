#!/usr/bin/env bats
# Each backend its own key (nexus-hub --backends): two tunnels with their own ES256 and RS256
# keys each serve the names their line grants, next to a shared-secret backend; a claim
# outside the grant, an unknown key and an HS256 token naming a backend's kid are refused
# with 1008 and a reason, and the tunnel exits 1 saying so; streams= caps open streams.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one; ONE_PORT=$WEB_PORT
  start_web two; TWO_PORT=$WEB_PORT
  start_web shared; SHARED_PORT=$WEB_PORT
  nexus-token keygen -t es256 -o "$T/edge-1.key" --backends-line edge-1 app.test \
    > "$T/backends"
  openssl genrsa -out "$T/edge-2.key" 2048 2>/dev/null
  openssl rsa -in "$T/edge-2.key" -pubout -out "$T/edge-2.pub" 2>/dev/null
  printf '# a key file beside this file, a wildcard and a port\nedge-2 ./edge-2.pub host=*.wild.test tcp=2222 weight=3\n' \
    >> "$T/backends"
  echo "$(nexus-token keygen -t es256 -o "$T/edge-3.key" --backends-line edge-3 held.test) streams=1" \
    >> "$T/backends"
  start_hub --backends "$T/backends"
  start_relay
}

# key_tunnel NAME KEY ARGS...: nexus-tunnel signing with its own key.
key_tunnel() {
  local name=$1 key=$2; shift 2
  bg "tunnel-$name" nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$key" --name "$name" -v "$@"
}

# refused ARGS...: a tunnel run once with ARGS exits 1.
refused() {
  run timeout 20 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --to 127.0.0.1:9 "$@"
  assert_failure 1
  assert_output --partial 'hub refused authentication (1008'
}

@test "two backends with their own keys serve their granted names, beside a shared-secret one" {
  key_tunnel edge-1 "$T/edge-1.key" --hostname app.test --to "127.0.0.1:$ONE_PORT"
  key_tunnel edge-2 "$T/edge-2.key" --hostname '*.wild.test' --weight 3 --to "127.0.0.1:$TWO_PORT"
  start_tunnel shared --hostname other.test --to "127.0.0.1:$SHARED_PORT"
  wait_backends 3
  kid1=$(nexus-token thumbprint "$T/edge-1.key")
  kid2=$(nexus-token thumbprint "$T/edge-2.pub")
  grep -q "backend registered.*backend=edge-1 key=edge-1 kid=$kid1 .*routes=app.test" "$T/hub.log"
  grep -q "backend registered.*backend=edge-2 key=edge-2 kid=$kid2 .*routes=\*.wild.test" "$T/hub.log"
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl "http://a.wild.test:$RELAY_PORT/who"
  assert_output two
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output shared
}

@test "a name outside the grant: 1008 naming it, the tunnel exits 1 saying so" {
  refused --key "$T/edge-1.key" --hostname app.test --hostname evil.test
  assert_output --partial 'hostname evil.test is not granted to this key'
  assert_output --partial "does not grant this key"
  grep -q 'msg="backend refused".*key=edge-1 kid=.*code=1008 reason=.*evil.test is not granted' "$T/hub.log"
  # a wildcard grant covers one label, not the parent name nor a deeper wildcard
  refused --key "$T/edge-2.key" --hostname wild.test
  assert_output --partial 'hostname wild.test is not granted'
  refused --key "$T/edge-2.key" --hostname '*.a.wild.test'
  # ports and weight are granted too
  refused --key "$T/edge-2.key" --tcp-port 2223
  assert_output --partial 'tcp port 2223 is not granted'
  refused --key "$T/edge-2.key" --hostname a.wild.test --weight 4
  assert_output --partial 'weight 4 is above'
}

@test "a key the backends file does not list is refused" {
  nexus-token keygen -t es256 -o "$T/stranger.key"
  refused --key "$T/stranger.key" --hostname app.test
  assert_output --partial "unknown key (kid $(nexus-token thumbprint "$T/stranger.key"))"
  assert_output --partial 'add its line'
}

@test "an HS256 token naming a backend's kid cannot use that key" {
  kid1=$(nexus-token thumbprint "$T/edge-1.key")
  refused --hostname app.test \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend --kid $kid1"
  assert_output --partial 'an HS256 token cannot use a backend key'
  # signed with the backend's key but without its kid, the token goes to the shared secret
  refused --hostname app.test --token-cmd "nexus-token issue -k '$T/edge-1.key' --backend"
}

@test "--key wants a private key pair, not a secret or a public key" {
  run nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --key "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 2
  assert_output --partial 'not a private key'
  run nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --key "$T/edge-2.pub" \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 2
}

@test "streams= in the grant caps the streams open at once" {
  start_web held --keep-alive; HELD_PORT=$WEB_PORT
  key_tunnel edge-3 "$T/edge-3.key" --hostname held.test --to "127.0.0.1:$HELD_PORT"
  wait_log "$T/hub.log" 'backend registered.*backend=edge-3'
  held() { curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
             --resolve "held.test:$RELAY_PORT:127.0.0.1" "http://held.test:$RELAY_PORT/who"; }
  # one keep-alive connection holds the only stream edge-3 is granted
  exec 8<>"/dev/tcp/127.0.0.1/$RELAY_PORT"
  printf 'GET /who HTTP/1.1\r\nHost: held.test\r\n\r\n' >&8
  read -r status <&8
  [[ "$status" == "HTTP/1.1 200"* ]]
  run held
  assert_output 503
  grep -q 'msg="stream refused".*backend=edge-3.*streams=1 reached' "$T/hub.log"
  # knocking at the cap is refused every time but logged once a second, not once a knock
  for i in 1 2 3 4 5 6; do run held; assert_output 503; done
  n=$(grep -c 'msg="stream refused".*backend=edge-3' "$T/hub.log")
  (( n >= 1 && n <= 2 )) || { echo "stream refused logged $n times for 7 refusals"; false; }
  # a client that sends a big upload (more than the sockets buffer) before it reads: the
  # refusing side drains what comes until the client is done, so the upload is not cut off
  # by a reset (which on a real network can also destroy the 503 in flight), and the 503
  # is there to read
  run python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
body = b"x" * (32 << 20)
s.sendall(b"POST /who HTTP/1.1\r\nHost: held.test\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
print("sent")
print(s.recv(100).split(b"\r\n")[0].decode())' "$RELAY_PORT"
  assert_success
  assert_output $'sent\nHTTP/1.1 503 Service Unavailable'
  # a TLS client is told in TLS (by the worker carrying edge-3, or the relay without one)
  run curl -sS --max-time 20 -o /dev/null --resolve "held.test:$RELAY_PORT:127.0.0.1" \
    -k "https://held.test:$RELAY_PORT/who"
  assert_failure
  assert_output --partial 'alert internal error'
  exec 8>&-
  # once it is closed, the next client gets through
  for _ in $(seq 100); do code=$(held); [ "$code" = 200 ] && break; sleep 0.1; done
  assert_equal "$code" 200
}
