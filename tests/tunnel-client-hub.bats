#!/usr/bin/env bats
# nexus-tunnel against the real nexus-hub and nexus-relay: what a developer publishing a
# port sees, surviving a hub restart, --exec, a refused token, SIGTERM with open streams,
# an RS256 key as the signing key. Uses the hub work's helpers (tests/lib/tunnel.bash).
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
}

@test "the README example: publish a local port, curl it through relay and hub" {
  start_hub
  start_relay
  bg tunnel nexus-tunnel --hub "wss://localhost:$HUB_PORT/connect" --cafile "$T/hub.crt" \
    --secret-file "$T/hub.secret" --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_log "$T/tunnel.log" "serving app.test → 127.0.0.1:$PLAIN_PORT via wss://localhost:$HUB_PORT/connect"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "a hub restart: the tunnel notices, backs off, reconnects and serves again" {
  start_hub
  start_relay
  start_tunnel dev --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  kill -TERM "$HUB_PID"
  wait "$HUB_PID" || true
  wait_log "$T/tunnel-dev.log" 'session ended: hub closed' 1 15
  wait_log "$T/tunnel-dev.log" 'reconnecting in'
  mv "$T/hub.log" "$T/hub1.log"
  # same port again (the tunnel keeps dialing it)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving app.test' 2 20
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}

@test "--exec through the real hub: one process per end-user connection" {
  start_hub
  start_relay
  start_tunnel exec --hostname app.test \
    --exec 'printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhost=%s proto=%s\n" "$NEXUS_HOSTNAME" "$PROTO"'
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/"
  assert_success
  assert_output "host=app.test proto=TCP"
  run relay_curl "http://app.test:$RELAY_PORT/"
  assert_output "host=app.test proto=TCP"
}

@test "a token the hub refuses (--retry): its 1008 reason is in the tunnel's log, no route appears" {
  start_hub
  start_relay
  printf 'not-the-hub-secret-but-long-enough-for-hs256\n' > "$T/wrong"; chmod 600 "$T/wrong"
  bg tunnel nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/wrong" --hostname app.test --to "127.0.0.1:$PLAIN_PORT" \
    --retry
  wait_log "$T/tunnel.log" 'hub refused authentication \(1008'
  wait_log "$T/tunnel.log" 'reconnecting in'
  run grep -c 'backend registered' "$T/hub.log"
  assert_output 0
}

@test "an expired token from --token-cmd: the tunnel stops at once, exit 1, with the clock hint" {
  start_hub
  # a token command whose tokens are already expired (a machine whose clock is far ahead of
  # the hub's looks the same to the hub)
  printf '#!/bin/sh\nexec nexus-token issue -k "%s" --backend --ttl 0 --claim exp=1000\n' \
    "$T/hub.secret" > "$T/old-token.sh"
  chmod +x "$T/old-token.sh"
  run timeout 30 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --token-cmd "$T/old-token.sh" --hostname app.test \
    --to "127.0.0.1:$PLAIN_PORT"
  assert_failure 1
  assert_output --partial 'hub refused authentication (1008'
  assert_output --partial 'expired'
  assert_output --partial "check this machine's clock"
  refute_output --partial 'reconnecting in' # retrying cannot fix it: no loop without --retry
  run grep -c 'backend registered' "$T/hub.log"
  assert_output 0
}

@test "an RS256 key signs the tokens when the hub has the public key" {
  nexus-token keygen -t rs256 -o "$T/rsa.key" >/dev/null
  openssl pkey -in "$T/rsa.key" -pubout -out "$T/rsa.key.pub" 2>/dev/null
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --verify-key "$T/rsa.key.pub" --relay-socket "$T/hub.sock" -v
  wait_port "$HUB_PORT"
  start_relay
  bg tunnel nexus-tunnel --hub "wss://localhost:$HUB_PORT/connect" --cafile "$T/hub.crt" \
    --secret-file "$T/rsa.key" --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}

@test "SIGTERM with a stream open: exit 0, the hub forgets the backend and its route" {
  start_hub
  start_relay
  start_tunnel dev --hostname app.test --exec 'exec sleep 30'
  local pid=$BG_PID rc=0
  wait_backends 1
  bg user curl -sS -m 30 --resolve "app.test:$RELAY_PORT:127.0.0.1" "http://app.test:$RELAY_PORT/"
  wait_log "$T/tunnel-dev.log" 'stream [0-9a-f-]+: app.test'
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  assert_equal "$rc" 0
  wait_log "$T/tunnel-dev.log" 'stopping'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  refute_output 200
}

@test "half-close (the hub's half_close extension): a client that shuts its write side still gets the whole reply" {
  start_hub
  start_relay
  local echo_port; echo_port=$(free_port)
  # an echo service that answers only after its input ended (like sort or wc)
  bg echo /usr/bin/python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $echo_port)); s.listen(8)
while True:
    c, _ = s.accept()
    data = b''
    while True:
        b = c.recv(65536)
        if not b: break
        data += b
    c.sendall(b'got %d bytes\n' % len(data)); c.close()
"
  wait_port "$echo_port"
  start_tunnel hc --hostname app.test --to "127.0.0.1:$echo_port"
  wait_backends 1
  wait_log "$T/hub.log" 'half_close=1'
  run /usr/bin/python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $RELAY_PORT)); s.settimeout(10)
s.sendall(b'GET / HTTP/1.1\r\nHost: app.test\r\n\r\n' + b'x' * 100000)
s.shutdown(socket.SHUT_WR)
out = b''
while True:
    b = s.recv(65536)
    if not b: break
    out += b
print(out.decode().strip())
"
  assert_success
  assert_output "got 100034 bytes"
}

@test "a stage-1 token the hub refuses: the tunnel never claims to be serving" {
  start_hub
  start_relay
  # stage 1 claims another name than stage 0: the hub must refuse it
  cat > "$T/tok.sh" <<SH
#!/bin/sh
[ "\$NEXUS_ATTESTATION_STAGE" = attest ] && export NEXUS_HOSTNAMES=other.test
exec nexus-token issue -k "$T/hub.secret" --backend
SH
  chmod +x "$T/tok.sh"
  bg tunnel nexus-tunnel --hub "wss://localhost:$HUB_PORT/connect" --cafile "$T/hub.crt" \
    --token-cmd "$T/tok.sh" --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_log "$T/tunnel.log" 'hub refused authentication \(1008: .*differ'
  sleep 0.5 # a late "serving" line would show up now
  run grep -c serving "$T/tunnel.log"
  assert_output 0
}
