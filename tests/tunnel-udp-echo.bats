#!/usr/bin/env bats
# A UDP port claim end to end: nexus-relay --listen-udp hands its socket to nexus-hub,
# nexus-tunnel --udp-port carries the flow to a local UDP echo service. 10 000 datagrams
# go in (paced by a window of 16 unanswered, on loopback) and all 10 000 come back, in one
# flow that never stalls: credits go back per datagram (the Nexus Proxy client stops after
# 64).
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
  wait_log "$T/relay.log" 'msg="udp listener handed to the hub" port='"$UDP_PORT"
  start_tunnel udp --udp-port "$UDP_PORT=127.0.0.1:$ECHO_PORT"
  wait_backends 1
}

@test "10 000 datagrams through relay, hub and tunnel: all echoed, one flow, no stall" {
  grep -q "routes=udp:$UDP_PORT" "$T/hub.log"
  run "$HELPERS/udp-client" --port "$UDP_PORT" --count 10000 --window 16 --size 200
  echo "# $output" >&3
  assert_success
  assert_output 'sent 10000 received 10000 bad 0'
  [ "$(grep -c 'msg="udp flow open"' "$T/hub.log")" -eq 1 ]
  grep -q "connect.*udp" "$T/tunnel-udp.log" || grep -q "udp flow .* from 127.0.0.1:" "$T/tunnel-udp.log"
  # nothing was dropped on the way
  ! grep -q 'udp datagram dropped' "$T/hub.log"
}

@test "datagrams of 32 KiB, the most one data frame carries, come back whole" {
  run "$HELPERS/udp-client" --port "$UDP_PORT" --count 20 --window 4 --size 32768
  assert_success
  assert_output 'sent 20 received 20 bad 0'
}
