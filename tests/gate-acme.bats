#!/usr/bin/env bats
# nexus-tunnel --gate-acme-directory: the device gets the certificate of its gated hosts
# from ACME (Debian's pebble) with the same client as the hub. pebble's HTTP-01 validation
# comes the way a browser does — relay (plain HTTP) → hub → tunnel — and the gate answers
# it; a browser then sees the ACME certificate, a plain-HTTP request that is not a
# challenge is told to use https (421), and short-lived certificates are renewed while
# the tunnel runs. Hub and relay need nothing for it (they stay passthrough).
load lib/common
load lib/tunnel
load lib/acme
load lib/gate

suite_setup() {
  tunnel_keys
  gate_bind
  UI_LOG="$T/ui-requests.jsonl"
  : > "$UI_LOG"
  bg ui "$HELPERS/gate-ui" --log "$UI_LOG"
  wait_log "$T/ui.log" '^listening '
  UI_PORT=$(awk '/^listening /{print $2; exit}' "$T/ui.log")
  start_hub
  RELAY_PORT=$(free_port)
  ACME_HTTP_PORT=$RELAY_PORT
  start_relay
}

# serial of the certificate the gate shows a browser now
gate_serial() {
  openssl s_client -connect "127.0.0.1:$RELAY_PORT" -servername dev1.ui.test </dev/null 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2
}

start_acme_tunnel() {
  start_tunnel gate --hostname dev1.ui.test --to "127.0.0.1:$UI_PORT" \
    --gate-host dev1.ui.test --gate-verify-key "$T/grant.key.pub" \
    --gate-acme-directory "$PEBBLE_DIR" --gate-acme-email ops@ui.test \
    --gate-acme-dir "$T/gacme" --gate-acme-ca "$T/pebble-ca.pem" "$@"
  TUNNEL_PID=$BG_PID
  wait_backends 1
}

@test "the gate gets its certificate by HTTP-01 through relay and hub; browsers see it; renewal while running" {
  start_pebble 30   # 30 s certificates: renewed after about 20 s
  start_acme_tunnel
  wait_log "$T/tunnel-gate.log" 'gate: acme certificate installed' 1 90
  assert_equal "$(stat -c %a "$T/gacme/cert.pem")" 600
  # pebble's validation reached the gate as a plain-HTTP stream
  grep -q 'gate: acme challenge.*host=dev1.ui.test found=1' "$T/tunnel-gate.log"
  # a browser trusting pebble's root talks TLS with the gate; with no session it gets 401
  run curl -sS --max-time 30 --cacert "$T/pebble-root.pem" -o /dev/null -w '%{http_code}' \
    -H 'Accept: application/json' --connect-to "dev1.ui.test:443:127.0.0.1:$RELAY_PORT" \
    https://dev1.ui.test/headers
  assert_output 401
  s1=$(gate_serial)
  [ -n "$s1" ]
  # plain HTTP that is not a challenge: use https
  run curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
    --connect-to "dev1.ui.test:80:127.0.0.1:$RELAY_PORT" http://dev1.ui.test/
  assert_output 421
  # renewed while the tunnel runs: new connections see a new serial
  wait_log "$T/tunnel-gate.log" 'gate: acme certificate installed' 2 90
  for _ in $(seq 100); do
    s2=$(gate_serial)
    [ -n "$s2" ] && [ "$s2" != "$s1" ] && break
    sleep 0.2
  done
  echo "# serials: $s1 then $s2" >&3
  [ "$s2" != "$s1" ]
  kill -0 "$TUNNEL_PID"
}

@test "an unreachable ACME server: a clear log line, the gate refuses TLS until it has a certificate, the tunnel runs on" {
  PEBBLE_DIR="https://127.0.0.1:$(free_port)/dir"
  : > "$T/pebble-ca.pem"
  start_acme_tunnel
  wait_log "$T/tunnel-gate.log" 'gate: acme failed.*retry_in_s=[0-9]+ certificate=none' 1 60
  run curl -sS --max-time 30 -k -o /dev/null --connect-to "dev1.ui.test:443:127.0.0.1:$RELAY_PORT" \
    https://dev1.ui.test/headers
  assert_failure
  wait_log "$T/tunnel-gate.log" 'no certificate yet'
  kill -0 "$TUNNEL_PID"
}

@test "usage: --gate-acme-directory needs --gate-acme-dir; the ACME options need the directory" {
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname dev1.ui.test --to 127.0.0.1:1 --gate-host dev1.ui.test \
    --gate-verify-key "$T/grant.key.pub" --gate-acme-directory https://127.0.0.1:1/dir
  assert_failure 2
  assert_line --index 0 --partial 'needs --gate-host and --gate-acme-dir'
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname dev1.ui.test --to 127.0.0.1:1 --gate-acme-dir "$T/x"
  assert_failure 2
}
