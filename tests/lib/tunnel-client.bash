# Helpers for the tunnel-client-* suites: a PKI, the fake hub (tests/helpers/fake-hub.py,
# an independent WebSocket stack), local services, and waiting for log lines.
# Use after `load lib/common`.

PY=/usr/bin/python3   # Debian's python, which has python3-websockets

# make_pki: $T/hub.crt + hub.key (CN/SAN localhost), $T/other.crt (an unrelated CA),
# $T/secret (the HMAC secret of the vectors, mode 600).
make_pki() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/hub.key" \
    -out "$T/hub.crt" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    >/dev/null 2>&1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
    -out "$T/other.crt" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    >/dev/null 2>&1
  printf 'nexus-vectors-test-secret\n' > "$T/secret"
  chmod 600 "$T/secret"
}

# start_fake_hub [MODE] [extra args...]: sets HUB_PORT, RELAY_PORT, HUB_URL; events in
# $T/events.
start_fake_hub() {
  local mode=${1:-normal}; shift || true
  HUB_PORT=$(free_port); RELAY_PORT=$(free_port)
  HUB_URL="wss://localhost:$HUB_PORT/connect"
  bg hub "$PY" "$NEXUS_SRC/tests/helpers/fake-hub.py" --port "$HUB_PORT" --cert "$T/hub.crt" \
    --key "$T/hub.key" --secret-file "$T/secret" --relay-port "$RELAY_PORT" --route app.test \
    --mode "$mode" --events "$T/events" "$@"
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT" && wait_port "$RELAY_PORT"
}

# start_tunnel ARGS...: nexus-tunnel against the fake hub, log in $T/tunnel.log.
start_tunnel() {
  bg tunnel nexus-tunnel --hub "$HUB_URL" --cafile "$T/hub.crt" "$@"
  TUNNEL_PID=$BG_PID
}

# wait_log FILE REGEX [SECONDS]: wait until a line of FILE matches.
wait_log() {
  local f=$1 re=$2 secs=${3:-10} i
  for i in $(seq $((secs * 20))); do
    grep -Eq -- "$re" "$f" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no line matching '$re' in $f after ${secs}s:" >&2
  cat "$f" >&2 2>/dev/null
  return 1
}

# wait_serving: the tunnel has finished stage 1 and the hub registered it.
wait_serving() {
  wait_log "$T/events" '"event": "registered"' "${1:-10}"
}

# start_http DIR: python http.server on a free port serving DIR; sets HTTP_PORT.
start_http() {
  HTTP_PORT=$(free_port)
  bg http "$PY" -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$1"
  wait_port "$HTTP_PORT"
}

# start_service: a line service on a free port (SERVICE_PORT). First line "SLOW" → it never
# reads again (a stuck local service); "SINK" → reads and discards everything, answers the
# byte count at EOF; anything else → echoed back, then it echoes the rest of the stream.
start_service() {
  SERVICE_PORT=$(free_port)
  cat > "$T/service.py" <<'EOF'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
def serve(c):
    f = c.makefile("rb")
    line = f.readline()
    if line.strip() == b"SLOW":
        threading.Event().wait()
    if line.strip() == b"SINK":
        n = 0
        while True:
            b = f.read1(65536)
            if not b: break
            n += len(b)
        c.sendall(b"%d\n" % n); c.close(); return
    c.sendall(line)
    while True:
        b = f.read1(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
  bg service "$PY" "$T/service.py" "$SERVICE_PORT"
  wait_port "$SERVICE_PORT"
}

# wait_count FILE REGEX N [SECONDS]: wait until at least N lines of FILE match.
wait_count() {
  local f=$1 re=$2 n=$3 secs=${4:-10} i c
  for i in $(seq $((secs * 20))); do
    c=$(grep -Ec -- "$re" "$f" 2>/dev/null)
    [ "${c:-0}" -ge "$n" ] && return 0
    sleep 0.05
  done
  echo "fewer than $n lines matching '$re' in $f after ${secs}s" >&2
  return 1
}
