#!/usr/bin/env bats
# A Nexus Proxy-style backend that claims a UDP port (udp_routes in its tokens) is served,
# not closed with 1008 as before: the hub registers udp:N, a flow's connect says transport
# udp, hostname udp:N and the relay port, and 300 datagrams are echoed although the
# backend never grants credits for UDP and sends only within the hub's: the hub returns a
# credit per datagram it writes, so the flow does not stall at 64. A claim of a port the
# hub does not allow is still refused, naming the port.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  UDP_PORT=$(free_port)
  start_hub --allow-udp-port "$UDP_PORT"
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
}

@test "a Nexus Proxy-style UDP claim is accepted and its flow never stalls" {
  start_fake np --udp-route "$UDP_PORT:30" --no-grants
  wait_backends 1
  grep -q "routes=udp:$UDP_PORT" "$T/hub.log"
  run "$HELPERS/udp-client" --port "$UDP_PORT" --count 300 --window 8
  assert_success
  assert_output 'sent 300 received 300 bad 0'
  grep -q "^connect udp:$UDP_PORT $UDP_PORT 127.0.0.1:[0-9]* plain udp" "$T/backend-np.log"
  ! grep -q 'udp-stalled' "$T/backend-np.log"
}

@test "a UDP port the hub does not allow is refused with 1008 naming it" {
  start_fake other --udp-route 5999
  wait_log "$T/backend-other.log" 'closed code=1008' 1 15
  grep -q 'udp port 5999 not allowed' "$T/backend-other.log"
}
