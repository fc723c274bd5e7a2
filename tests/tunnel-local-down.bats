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

@test "a local service that never answers the connect: the end user gets 504 after the dial timeout" {
  # a listener whose accept queue is full drops further SYNs: the tunnel's connect hangs
  HP=$(free_port)
  bg hang python3 -c '
import socket,sys,time
l=socket.socket(); l.bind(("127.0.0.1",int(sys.argv[1]))); l.listen(0)
c=[socket.socket() for _ in range(3)]
for s in c:
    s.setblocking(False)
    try: s.connect(("127.0.0.1",int(sys.argv[1])))
    except BlockingIOError: pass
print("full", flush=True); time.sleep(60)' "$HP"
  wait_log "$T/hang.log" '^full$'
  start_tunnel hang --hostname app.test --to "127.0.0.1:$HP"
  wait_backends 1
  run relay_curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "http://app.test:$RELAY_PORT/"
  assert_output 504
  run cat "$T/body"
  assert_output 'local service did not answer'
  wait_log "$T/tunnel-hang.log" "cannot reach 127.0.0.1:$HP: connect timed out"
}

@test "a hundred requests to a stopped service: each gets 502, the log says so ten times a second at most" {
  DOWN=$(free_port)
  start_tunnel dev --hostname app.test --to "127.0.0.1:$DOWN"
  wait_backends 1
  local t0 secs lines sum
  t0=$(date +%s)
  run relay_curl -s -o /dev/null -w '%{http_code}\n' "http://app.test:$RELAY_PORT/x[1-100]"
  [ "$(grep -c '^502$' <<<"$output")" = 100 ]
  secs=$(( $(date +%s) - t0 + 1 ))
  sleep 1.2
  run relay_curl -s -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/last"
  assert_output 502
  wait_log "$T/tunnel-dev.log" "cannot reach 127.0.0.1:$DOWN.*\([0-9]+ times\)"
  grep "cannot reach 127.0.0.1:$DOWN" "$T/tunnel-dev.log" > "$T/down.log"
  lines=$(wc -l < "$T/down.log")
  # a line stands for itself, or for the N times it says
  sum=$(awk '{ n = 1; if (match($0, /\(([0-9]+) times\)$/)) n = substr($0, RSTART + 1, RLENGTH - 8); s += n } END { print s }' "$T/down.log")
  echo "# 101 requests to a stopped service in about ${secs}s: $lines lines logged, standing for $sum" >&3
  [ "$sum" = 101 ]
  [ "$lines" -le $(( 10 * (secs + 1) + 1 )) ]
}

@test "a service slow to take the dial: the first bytes wait for it, nothing is lost" {
  # a full accept queue (backlog 0, one connection waiting) drops the tunnel's SYN: its
  # dial stays in progress until the kernel's retransmission a second or more later
  cat > "$T/slow.py" <<'PY'
import socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
filler = socket.create_connection(l.getsockname(), timeout=5)
print("listening", l.getsockname()[1], flush=True)
time.sleep(1.5)
l.accept()[0].close()                 # the filler: the queue has room again
c, _ = l.accept()                     # the tunnel's retransmitted SYN
c.settimeout(20)
req = b""
while b"\r\n\r\n" not in req:
    req += c.recv(4096)
print("request", req.split(b"\r\n")[0].decode(), flush=True)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
c.close()
PY
  bg slow python3 -u "$T/slow.py"
  wait_log "$T/slow.log" '^listening '
  SLOW=$(awk '/^listening /{print $2; exit}' "$T/slow.log")
  start_tunnel dev --hostname app.test --to "127.0.0.1:$SLOW"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output slow
  grep -q '^request GET /who HTTP/1.1' "$T/slow.log"
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

@test "over --max-streams-per-source: that address gets 503, another address is served" {
  start_web ka2 --keep-alive
  start_tunnel dev --hostname app.test --to "127.0.0.1:$WEB_PORT" --max-streams 8 \
    --max-streams-per-source 2
  wait_backends 1
  # two keep-alive streams from 127.0.0.1 stay open after their answers
  local fd
  for fd in 7 8; do
    eval "exec $fd<>/dev/tcp/127.0.0.1/$RELAY_PORT"
    printf 'GET /who HTTP/1.1\r\nHost: app.test\r\n\r\n' >&"$fd"
    read -r -t 30 status <&"$fd"
    [[ "$status" == "HTTP/1.1 200"* ]]
  done
  run relay_curl -s -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 503
  wait_log "$T/tunnel-dev.log" 'app.test: 2 streams open from 127.0.0.1:[0-9]+ \(--max-streams-per-source\), refusing another'
  run curl -sS --max-time 20 --interface 127.0.0.2 --resolve "app.test:$RELAY_PORT:127.0.0.1" \
    -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 200
  # a place freed is taken again
  exec 7>&- 8>&-
  local i code
  for i in $(seq 100); do
    code=$(relay_curl -s -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who")
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ]
}
