#!/usr/bin/env bats
# What a hostile UDP client can do costs it, not the hub: a datagram larger than one data
# frame (32 KiB) is dropped with a log line; a flood of flows from many source ports stops
# at --max-udp-flows-per-source with one log line counting the refusals (not one per
# datagram), and the hub and the tunnel stay up.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  bg echo "$HELPERS/udp-echo"
  wait_log "$T/echo.log" '^listening '
  ECHO_PORT=$(awk '/^listening /{print $2; exit}' "$T/echo.log")
  UDP_PORT=$(free_port)
  start_hub --allow-udp-port "$UDP_PORT" --max-udp-flows-per-source 40 --max-udp-flows 100
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
  start_tunnel udp --udp-port "$UDP_PORT=127.0.0.1:$ECHO_PORT"
  wait_backends 1
}

@test "an oversized datagram is dropped with a clear log line; the next one is carried" {
  run python3 - "$UDP_PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(b"x" * 40000)
s.send(b"small")
print(s.recv(65536).decode())
PY
  assert_success
  assert_output small
  grep 'msg="udp datagram dropped: too large"' "$T/hub.log" | grep -q 'size=40000 max=32768'
  kill -0 "$HUB_PID"
}

@test "a flood of flows from 300 source ports stops at the per-source cap, logged with a count" {
  run "$HELPERS/udp-client" --port "$UDP_PORT" --flows 300 --timeout 3
  echo "# $output" >&3
  assert_success
  assert_output 'flows 300 answered 40'
  wait_log "$T/hub.log" 'msg="udp flow refused: too many flows from one source".*max_flows_per_source=40'
  # counted, not one line per refused datagram
  [ "$(grep -c 'udp flow refused' "$T/hub.log")" -lt 10 ]
  # while those 40 are open (30 s idle) one more from this address is refused too; the
  # hub and the tunnel are up
  run "$HELPERS/udp-client" --port "$UDP_PORT" --count 1 --timeout 2
  assert_failure
  assert_output 'sent 1 received 0 bad 0'
  kill -0 "$HUB_PID"
  pgrep -f "nexus-tunnel.*--udp-port $UDP_PORT" >/dev/null
}
