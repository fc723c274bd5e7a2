#!/usr/bin/env bats
# The local service is down, or the tunnel is at --max-streams: the end user is told in its
# own protocol — 502 Bad Gateway / 503 Service Unavailable for HTTP, a TLS internal_error
# alert for TLS — instead of an empty reply or a reset.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_hub
  start_relay
}

@test "a stopped local service: curl gets 502 Bad Gateway" {
  DOWN=$(free_port)
  start_tunnel dev --hostname app.test --to "127.0.0.1:$DOWN"
  wait_backends 1
  run relay_curl -s -o "$T/body" -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output 502
  run cat "$T/body"
  assert_output 'local service unreachable' 
  wait_log "$T/tunnel-dev.log" "cannot reach 127.0.0.1:$DOWN"
  # the tunnel and the hub carry on: the service comes up and is served
  bg web-late "$HELPERS/web-server" --root "$T" --name late --port "$DOWN"
  wait_log "$T/web-late.log" '^listening '
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output late
}

@test "a stopped local service: a TLS client gets an internal_error alert" {
  DOWN=$(free_port)
  start_tunnel dev --hostname app.test --to "127.0.0.1:$DOWN"
  wait_backends 1
  run timeout 30 openssl s_client -connect "127.0.0.1:$RELAY_PORT" -servername app.test \
    -CAfile "$T/web.crt" < /dev/null
  assert_failure
  assert_output --partial 'alert internal error'
}

@test "over --max-streams: curl gets 503, a TLS client the internal_error alert, the open stream is unharmed" {
  start_web ka --keep-alive
  start_tunnel dev --hostname app.test --to "127.0.0.1:$WEB_PORT" --max-streams 1
  wait_backends 1
  # hold the one stream open (keep-alive), then ask for a second
  cat > "$T/hold.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def ask():
    # one whole response (status, headers, Content-Length body): under load the body may
    # come in a segment of its own, and must not be read as the next response
    s.sendall(b"GET /who HTTP/1.1\r\nHost: app.test\r\n\r\n")
    status = f.readline().decode().rstrip("\r\n")
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    f.read(n)
    print(status, flush=True)
ask()
sys.stdin.readline()
ask()
PY
  coproc HOLD { python3 -u "$T/hold.py" "$RELAY_PORT"; }
  read -r -t 30 first <&"${HOLD[0]}"
  [ "$first" = "HTTP/1.1 200 OK" ]
  run relay_curl -s -o "$T/body" -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 503
  run cat "$T/body"
  assert_output 'too many streams' 
  wait_log "$T/tunnel-dev.log" 'max-streams'
  # a TLS client over the limit is told in TLS: the internal_error alert
  run timeout 30 openssl s_client -connect "127.0.0.1:$RELAY_PORT" -servername app.test \
    -CAfile "$T/web.crt" < /dev/null
  assert_failure
  assert_output --partial 'alert internal error'
  echo >&"${HOLD[1]}"
  read -r -t 30 second <&"${HOLD[0]}"
  [ "$second" = "HTTP/1.1 200 OK" ]
}
