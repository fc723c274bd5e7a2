#!/usr/bin/env bats
# The gate's bounds against one end user: at most 64 gated connections from one address
# (of 256 in all), so one client cannot lock everyone out of the device's web UI; a request
# head must arrive whole within 30 s of its first byte, so a trickling client lets go of its
# thread.
load lib/common
load lib/tunnel
load lib/gate

suite_setup() {
  gate_stack
}

@test "one address holds at most 64 gated connections; another address still gets in" {
  cat > "$T/hold.py" <<'PY'
import socket, ssl, sys, time
port, ca, n, src = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
held, refused = [], 0
for i in range(n):
    raw = socket.socket()
    raw.bind((src, 0))
    raw.settimeout(20)
    raw.connect(("127.0.0.1", port))
    try:
        held.append(ctx.wrap_socket(raw, server_hostname="dev1.ui.test"))
    except (ssl.SSLError, OSError):
        refused += 1
print("held", len(held), "refused", refused, flush=True)
time.sleep(float(sys.argv[5]))
PY
  bg hold python3 -u "$T/hold.py" "$RELAY_PORT" "$T/ca.crt" 66 127.0.0.1 60
  wait_log "$T/hold.log" '^held ' 1 60
  run cat "$T/hold.log"
  assert_output 'held 64 refused 2'
  wait_log "$T/tunnel-gate.log" '64 gated connections open from one address, refusing another'
  run python3 -u "$T/hold.py" "$RELAY_PORT" "$T/ca.crt" 1 127.0.0.2 0
  assert_output 'held 1 refused 0'
}

@test "a request head trickled a byte a second is answered 408 after 30 s and let go" {
  cat > "$T/trickle.py" <<'PY'
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
s = ssl.create_default_context(cafile=ca).wrap_socket(
    socket.create_connection(("127.0.0.1", port)), server_hostname="dev1.ui.test")
s.sendall(b"GET / HTTP/1.1\r\nHost: dev1.ui.test\r\n")
s.settimeout(1)
got = b""
for i in range(50):
    try:
        s.sendall(b"X")
    except OSError:
        break
    try:
        b = s.recv(4096)
        if not b:
            break
        got += b
    except socket.timeout:
        pass
    except OSError:
        break
print(got.split(b"\r\n")[0].decode() or "nothing", "after about", i, "s", flush=True)
PY
  run timeout 90 python3 -u "$T/trickle.py" "$RELAY_PORT" "$T/ca.crt"
  echo "# $output" >&3
  assert_output --partial 'HTTP/1.1 408'
}
