#!/usr/bin/env bats
# nexus-tunnel serving streams through a Nexus-Proxy-like hub (tests/helpers/fake-hub.py):
# what an end user connecting to the hub's relay port observes, and what the hub sees.
load lib/common
load lib/tunnel-client

suite_setup() { make_pki; }

@test "a web page published with --to reaches the end user; the hub sees the Go-style upgrade and claims" {
  mkdir "$T/www"; echo "hello from the backend" > "$T/www/index.html"
  start_http "$T/www"
  start_fake_hub
  # a name as target: looked up once per session, dialed as a number
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "localhost:$HTTP_PORT" --name dev1
  wait_serving
  wait_log "$T/tunnel.log" "serving app.test → localhost:$HTTP_PORT via $HUB_URL"
  run curl -sS -m 10 "http://127.0.0.1:$RELAY_PORT/index.html"
  assert_success
  assert_output "hello from the backend"
  # the upgrade request carries exactly the Go client's headers, in its order
  run grep '"event": "upgrade"' "$T/events"
  assert_output --partial '["Host", "localhost:'"$HUB_PORT"'"], ["User-Agent", "Go-http-client/1.1"], ["Connection", "Upgrade"], ["Sec-WebSocket-Key"'
  # stage 0 claims like the Go backend; stage 1 adds the nonce
  run grep '"event": "stage0"' "$T/events"
  assert_output --partial '{"hostnames": ["app.test"], "weight": 1, "iss": "authorizer", "sub": "dev1", "aud": ["nexus"]'
  # the window is granted right after connect, and the backend closed first with "normal"
  wait_log "$T/events" '"reason": "normal"|user_closed'
  run grep -c '"credits": 64' "$T/events"
  assert_output 1
}

@test "4 MiB up and the same 4 MiB echoed back arrive intact (credits both ways, many frames)" {
  start_service
  head -c 4194304 /dev/urandom > "$T/big"
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$SERVICE_PORT"
  wait_serving
  # echo service: what goes up comes back down
  run "$PY" - "$RELAY_PORT" "$T/big" <<'EOF'
import socket, sys, hashlib, threading
data = b"ECHO\n" + open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
# no half-close: the protocol has none, the end user's FIN ends the stream both ways
threading.Thread(target=lambda: s.sendall(data), daemon=True).start()
got = bytearray()
s.settimeout(30)
while len(got) < len(data):
    b = s.recv(1 << 20)
    if not b: break
    got += b
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())
EOF
  assert_success
  assert_output "$((4194304 + 5)) True"
  run grep -c credit_violation "$T/events"
  assert_output 0
  # the backend returned credits in batches of 8 as it wrote locally
  run grep -c '"event": "resume_stream", "client_id": "[0-9a-f-]*", "credits": 8' "$T/events"
  assert [ "$output" -gt 10 ]
}

@test "a stuck local service stalls only its own stream" {
  start_service
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$SERVICE_PORT"
  wait_serving
  # stream 1: 16 MiB towards a service that never reads
  "$PY" - "$RELAY_PORT" > "$T/slow.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
try:
    s.sendall(b"SLOW\n" + b"x" * (16 << 20))
except Exception as e:
    print("stopped:", type(e).__name__)
EOF
  NX_PIDS+=($!)
  # the hub must end up waiting for credits on that stream
  wait_log "$T/events" '"event": "waiting_for_credits"' 20
  # stream 2 still works
  run "$PY" - "$RELAY_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"hello\n")
print(s.recv(100).decode().strip())
EOF
  assert_success
  assert_output "hello"
  run grep -c credit_violation "$T/events"
  assert_output 0
}

@test "the backend never has more than 64 frames in flight when the hub returns no credits" {
  head -c 8388608 /dev/zero > "$T/www-big"
  mkdir "$T/www"; mv "$T/www-big" "$T/www/big"
  start_http "$T/www"
  start_fake_hub hold-credits
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$HTTP_PORT"
  wait_serving
  curl -s -m 4 -o /dev/null "http://127.0.0.1:$RELAY_PORT/big" || true
  run grep -c '"n": 64, "event": "in_flight"' "$T/events"
  assert_output 1
  run grep -c '"n": 65' "$T/events"
  assert_output 0
  run grep -c credit_violation "$T/events"
  assert_output 0
}

@test "--map picks the target by hostname, wildcard or relay port; the default is --to" {
  start_service
  mkdir "$T/www"; echo "web" > "$T/www/index.html"
  start_http "$T/www"
  # the fake hub routes everything as app.test: map it to the echo service
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --hostname '*.wild.test' \
    --map "app.test=127.0.0.1:$SERVICE_PORT" --map "*.wild.test=127.0.0.1:$HTTP_PORT" \
    --to "127.0.0.1:$HTTP_PORT"
  wait_serving
  wait_log "$T/tunnel.log" "serving app.test, \\*.wild.test via $HUB_URL: app.test → 127.0.0.1:$SERVICE_PORT, \\*.wild.test → 127.0.0.1:$HTTP_PORT, otherwise → 127.0.0.1:$HTTP_PORT"
  run "$PY" - "$RELAY_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10); s.sendall(b"mapped\n"); print(s.recv(100).decode().strip())
EOF
  assert_output "mapped"
}

@test "--exec runs a command per stream with the stream on stdin/stdout and ucspi variables" {
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test \
    --exec 'echo "proto=$PROTO ip=$TCPREMOTEIP host=$NEXUS_HOSTNAME port=$TCPLOCALPORT"; while read -r l; do echo "$l" | tr a-z A-Z; done'
  wait_serving
  run "$PY" - "$RELAY_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10); s.sendall(b"shout\n")
out = b""
while out.count(b"\n") < 2:
    b = s.recv(100)
    if not b: break
    out += b
print(out.decode().strip())
EOF
  assert_success
  assert_line --index 0 "proto=TCP ip=127.0.0.1 host=app.test port=$RELAY_PORT"
  assert_line --index 1 "SHOUT"
}

@test "a local service that is down: the end user gets 502, the hub hears dial_failed" {
  local dead; dead=$(free_port)
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$dead"
  wait_serving
  run curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RELAY_PORT/"
  assert_output 502
  wait_log "$T/events" '"reason": "dial_failed"'
  wait_log "$T/tunnel.log" "app.test: cannot reach 127.0.0.1:$dead"
}

@test "an old hub without credits (legacy Nexus Proxy) is served without limits" {
  mkdir "$T/www"; head -c 1048576 /dev/urandom > "$T/www/blob"
  start_http "$T/www"
  start_fake_hub legacy
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$HTTP_PORT"
  wait_serving
  run curl -sS -m 20 -o "$T/got" "http://127.0.0.1:$RELAY_PORT/blob"
  assert_success
  run cmp "$T/got" "$T/www/blob"
  assert_success
}

@test "SIGTERM ends nexus-tunnel cleanly (exit 0): open streams end with reason shutdown" {
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --exec 'exec sleep 30'
  wait_serving
  bg user "$PY" -c "import socket,time; s=socket.create_connection(('127.0.0.1',$RELAY_PORT)); time.sleep(30)"
  wait_log "$T/events" '"credits": 64'
  kill -TERM "$TUNNEL_PID"
  local rc=0
  wait "$TUNNEL_PID" || rc=$?
  assert_equal "$rc" 0
  wait_log "$T/events" '"event": "session_end"'
  wait_log "$T/tunnel.log" "stopping"
  run grep -c '"reason": "shutdown"' "$T/events"
  assert_output 1
}

@test "--max-streams: a stream beyond the limit is refused, the ones open keep working" {
  start_fake_hub
  start_tunnel --secret-file "$T/secret" --hostname app.test --max-streams 1 \
    --exec 'while read -r l; do echo "echo $l"; done'
  wait_serving
  run "$PY" - "$RELAY_PORT" <<'EOF2'
import socket, sys
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port)); a.settimeout(10)
a.sendall(b"one\n"); print(a.recv(100).decode().strip())
b = socket.create_connection(("127.0.0.1", port)); b.settimeout(10)
try:
    b.sendall(b"two\n"); print("second:", (b.recv(100).decode() or "closed").split("\r\n")[0])
except OSError as e:
    print("second:", "closed")
a.sendall(b"three\n"); print(a.recv(100).decode().strip())
EOF2
  assert_success
  assert_line --index 0 "echo one"
  # the fake hub routes everything as app.test (a Host name): so the refusal is HTTP 503
  assert_line --index 1 --partial "second: HTTP/1.1 503 Service Unavailable"
  assert_line --index 2 "echo three"
  wait_log "$T/tunnel.log" "app.test: 1 streams open \(--max-streams\), refusing another"
}
