#!/usr/bin/env bats
# nexus-hub --max-buffered: end users that stop reading cannot make the hub hold more than
# that for them, however many streams they open; the streams holding the most are shed,
# and a client that reads is served all along.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 16M /dev/zero > "$T/big.bin"
  start_web big
  MP=$(free_port)
  start_hub --max-buffered 4M --metrics "127.0.0.1:$MP"
  start_relay
  start_tunnel big --hostname big.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
}

metric() {
  curl -sS --max-time 20 "http://127.0.0.1:$MP/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

@test "eight clients that never read a 16 MiB answer: the hub holds at most --max-buffered for them" {
  # each would have the hub hold its stream's whole credit window (about 2 MiB) beyond
  # what the kernel takes: 18 MiB for eight
  cat > "$T/stall.py" <<'PY'
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /big.bin HTTP/1.0\r\nHost: big.test\r\n\r\n")
    socks.append(s)
print("stalled", n, flush=True)
time.sleep(hold)
PY
  bg stall python3 -u "$T/stall.py" "$RELAY_PORT" 8 60
  wait_log "$T/stall.log" '^stalled '
  local max=0 v i
  for i in $(seq 50); do
    v=$(metric nexus_hub_buffered_bytes)
    [ "${v:-0}" -gt "$max" ] && max=$v
    sleep 0.1
  done
  echo "# the most the hub held for eight stalled end users: $max bytes (--max-buffered 4M)" >&3
  wait_log "$T/hub.log" 'msg="stream shed: its end user does not read and the hub.s buffers are full".*max_buffered=4194304'
  [ "$max" -le $(( 4 * 1048576 + 2 * 65536 )) ]
  [ "$max" -gt 1048576 ]   # the clients did make it hold something
  # a client that reads is served meanwhile, the whole file
  run curl -sS --max-time 30 -o "$T/got.bin" -w '%{http_code}' \
    --resolve "big.test:$RELAY_PORT:127.0.0.1" "http://big.test:$RELAY_PORT/big.bin"
  assert_output 200
  cmp "$T/got.bin" "$T/big.bin"
}

@test "a blocking socket handed over (a relay of its own) never stalls the hub: others are served" {
  # The hub makes no fcntl per handoff: its recv/send on a stream say MSG_DONTWAIT. Here
  # the handed-over socket is in blocking mode and its end user never reads a 16 MiB answer.
  cat > "$T/blocking-handoff.py" <<'PY'
import socket, struct, sys, time
hub_sock, hold = sys.argv[1], float(sys.argv[2])
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(1)
user = socket.socket(); user.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
user.connect(lst.getsockname())
conn, peer = lst.accept()          # blocking, as accept(2) gives it
assert conn.getblocking()
key, addr = b"big.test", ("%s:%d" % peer).encode()
prelude = b"GET /big.bin HTTP/1.0\r\nHost: big.test\r\n\r\n"
msg = (b"NXH1" + struct.pack(">BBBBHI", 0, len(key), len(addr), 0, lst.getsockname()[1],
       len(prelude)) + key + addr + prelude)
h = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); h.connect(hub_sock)
socket.send_fds(h, [msg], [conn.fileno()])
print("reply", h.recv(1)[0], flush=True)
time.sleep(hold)
PY
  bg blocking python3 -u "$T/blocking-handoff.py" "$T/hub.sock" 30
  wait_log "$T/blocking.log" '^reply 0$'
  sleep 1 # the backend sends; the stalled user's socket is full long before 16 MiB
  run curl -sS --max-time 30 -o "$T/got2.bin" -w '%{http_code}' \
    --resolve "big.test:$RELAY_PORT:127.0.0.1" "http://big.test:$RELAY_PORT/big.bin"
  assert_output 200
  cmp "$T/got2.bin" "$T/big.bin"
}

@test "--max-buffered takes a size of at least 1M" {
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --max-buffered 100K
  assert_failure 2
  assert_output --partial -- '--max-buffered: at least 1M'
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --max-buffered lots
  assert_failure 2
  assert_output --partial -- '--max-buffered'
}
