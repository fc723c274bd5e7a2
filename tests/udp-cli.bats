#!/usr/bin/env bats
# The UDP options of hub, relay and tunnel: mistakes are usage errors (one line naming the
# option, the --help hint, exit 2); a good UDP configuration passes -n and says what it
# serves.
load lib/common

usage_fails() {
  run "$@"
  assert_failure 2
  assert_line --index 1 --regexp "^try '.* --help'$"
}

@test "nexus-relay: --listen-udp needs an address with a port and a hub" {
  usage_fails nexus-relay --listen-udp 127.0.0.1 --hub /nonexistent/hub.sock
  assert_line --index 0 "nexus-relay: --listen-udp: bad address '127.0.0.1' (want host:port)"
  usage_fails nexus-relay --listen-udp 127.0.0.1:5353 --route tcp:22=127.0.0.1:22
  assert_line --index 0 "nexus-relay: --listen-udp needs --hub PATH (the hub carries UDP flows)"
  run nexus-relay -n --listen 127.0.0.1:8443 --listen-udp 127.0.0.1:5353 --hub /nonexistent/hub.sock
  assert_success
  assert_output "nexus-relay: configuration OK (1 listen address, 1 UDP, 0 routes, hub /nonexistent/hub.sock)"
  # in a config file a listener line may say udp:
  printf 'listen udp:127.0.0.1:5353\nlisten 127.0.0.1:8443\nhub /nonexistent/hub.sock\n' > "$T/relay.conf"
  run nexus-relay -n --config "$T/relay.conf"
  assert_success
  assert_output --partial "1 listen address, 1 UDP"
}

@test "nexus-hub: --allow-udp-port and the flow caps take numbers in range" {
  usage_fails nexus-hub --allow-udp-port 0
  assert_line --index 0 "nexus-hub: --allow-udp-port: 0 is out of range 1..65535"
  usage_fails nexus-hub --max-udp-flows x
  assert_line --index 0 --partial "nexus-hub: --max-udp-flows: "
  usage_fails nexus-hub --max-udp-flows-per-source 0
  assert_line --index 0 --partial "nexus-hub: --max-udp-flows-per-source: "
}

@test "nexus-tunnel: --udp-port N[:IDLE]=HOST:PORT, each port once" {
  nexus-token keygen -t hs256 -o "$T/s" >/dev/null
  local t=(nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/s")
  usage_fails "${t[@]}" --udp-port 53=nohost
  assert_line --index 0 "nexus-tunnel: --udp-port: '53=nohost': bad address (want HOST:PORT)"
  usage_fails "${t[@]}" --udp-port 53:1.5s=127.0.0.1:53
  assert_line --index 0 --partial "bad idle time"
  usage_fails "${t[@]}" --udp-port 0=127.0.0.1:53
  assert_line --index 0 --partial "bad port"
  usage_fails "${t[@]}" --udp-port 53=127.0.0.1:53 --udp-port 53=127.0.0.1:54
  assert_line --index 0 "nexus-tunnel: --udp-port 53 given twice"
  # a UDP claim alone is something to serve, and needs no --to
  run "${t[@]}" -n --udp-port 53:90s=127.0.0.1:5353
  assert_success
  assert_output "nexus-tunnel: configuration OK: udp 53 → 127.0.0.1:5353 via wss://127.0.0.1:1/connect"
}
