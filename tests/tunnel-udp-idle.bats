#!/usr/bin/env bats
# UDP flows end when idle: the tunnel claims --udp-port N:5s (flow_idle_timeout_seconds 5,
# the least the hub allows; 1 s would be clamped up to it), the hub closes a flow quiet for
# that long with a log line and a disconnect that closes the tunnel's socket for it, and
# the next datagram from the same client address opens a new flow.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  bg echo "$HELPERS/udp-echo"
  wait_log "$T/echo.log" '^listening '
  ECHO_PORT=$(awk '/^listening /{print $2; exit}' "$T/echo.log")
  UDP_PORT=$(free_port)
  start_hub --allow-udp-port "$UDP_PORT"
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
  start_tunnel udp --udp-port "$UDP_PORT:5s=127.0.0.1:$ECHO_PORT"
  wait_backends 1
}

@test "an idle flow expires on the hub and the tunnel; the same client then gets a new one" {
  # one client socket (one source port): a datagram, the idle time waited out, another
  run python3 - "$UDP_PORT" "$T/hub.log" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(b"one")
print(s.recv(100).decode())
for i in range(300):  # until the hub has expired the flow (at most 30 s)
    if "udp flow idle timeout" in open(sys.argv[2]).read():
        break
    time.sleep(0.1)
s.send(b"two")
print(s.recv(100).decode())
PY
  assert_success
  assert_output $'one\ntwo'
  grep 'msg="udp flow idle timeout"' "$T/hub.log" | grep -q "route=udp:$UDP_PORT .*idle_s=5"
  wait_log "$T/tunnel-udp.log" 'udp flow .* closed \(hub closed it\)' 1 10
  # the second datagram came from the same address, after the expiry: a new flow
  [ "$(grep -c 'msg="udp flow open"' "$T/hub.log")" -eq 2 ]
}
