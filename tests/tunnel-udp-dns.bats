#!/usr/bin/env bats
# A real UDP service behind the tunnel: dig asks dnsmasq (on 127.0.0.1 only, a free port,
# no upstream, one made-up name) through relay → hub → tunnel and gets its answer, for a
# name it knows, and REFUSED (it has no upstream) for one it does not. The tunnel's tokens
# come from nexus-token as its --token-cmd, so the UDP claim goes through NEXUS_UDP_ROUTES.
load lib/common
load lib/tunnel

suite_setup() {
  command -v dig >/dev/null || skip "dig not installed (scripts/install-deps: bind9-dnsutils)"
  command -v dnsmasq >/dev/null || skip "dnsmasq not installed (scripts/install-deps: dnsmasq-base)"
  tunnel_keys
  DNS_PORT=$(free_port)
  bg dnsmasq dnsmasq --keep-in-foreground --no-daemon --port "$DNS_PORT" \
    --listen-address 127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --address=/x.test/10.1.2.3 --user="$(id -un)" --pid-file= --log-queries
  wait_log "$T/dnsmasq.log" 'started'
  UDP_PORT=$(free_port)
  start_hub --allow-udp-port "$UDP_PORT"
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
  # tokens from the attestation command this time: the claim travels as NEXUS_UDP_ROUTES
  bg tunnel-dns nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --name dns -v --udp-port "$UDP_PORT:20s=127.0.0.1:$DNS_PORT" \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend"
  wait_backends 1
}

@test "dig through the tunnel gets dnsmasq's answer" {
  run dig @127.0.0.1 -p "$UDP_PORT" +short +tries=1 +time=5 www.x.test A
  assert_success
  assert_output 10.1.2.3
  run dig @127.0.0.1 -p "$UDP_PORT" +tries=1 +time=5 nothing.other.test A
  assert_success
  assert_output --partial 'status: REFUSED'
  grep -q 'query\[A\] www.x.test from 127.0.0.1' "$T/dnsmasq.log"
  grep -q "routes=udp:$UDP_PORT" "$T/hub.log"
}
