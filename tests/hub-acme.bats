#!/usr/bin/env bats
# nexus-hub --acme-directory against Debian's pebble: the hub obtains its certificate by
# HTTP-01 through nexus-relay's plain-HTTP port (--acme-challenge-dir), serves it to a
# nexus-tunnel that trusts pebble's root, and renews it (short-lived certificates) without
# dropping the tunnel's session while new connections get the new certificate.
load lib/common
load lib/tunnel
load lib/acme

# serial of the certificate the hub shows a new connection now
hub_serial() {
  openssl s_client -connect "127.0.0.1:$HUB_PORT" -servername hub.test </dev/null 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2
}

start_acme_hub() {
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --secret-file "$T/hub.secret" \
    --relay-socket "$T/hub.sock" --acme-directory "$PEBBLE_DIR" --acme-email ops@hub.test \
    --hub-hostname hub.test --acme-dir "$T/acme" --acme-ca "$T/pebble-ca.pem" -v "$@"
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
}

suite_setup() {
  tunnel_keys
  mkdir -p "$T/acme/challenges"
  start_web app
  RELAY_PORT=$(free_port)
  ACME_HTTP_PORT=$RELAY_PORT
  start_relay --acme-challenge-dir "$T/acme/challenges" --acme-host hub.test --acme-host hub2.test
}

@test "the hub gets its certificate, a tunnel trusting pebble's root serves, renewal keeps the session" {
  start_pebble 30   # 30 s certificates: renewed after about 20 s
  start_acme_hub
  wait_log "$T/hub.log" 'msg="acme certificate installed"' 1 60
  assert_equal "$(stat -c %a "$T/acme/cert.pem")" 600
  assert_equal "$(stat -c %a "$T/acme/account.key")" 600
  local s1; s1=$(hub_serial)
  [ -n "$s1" ]
  grep -q "msg=\"acme certificate installed\".*serial=$s1 " "$T/hub.log" ||
    { echo "s_client saw serial '$s1'; the hub logged:"; grep 'msg="acme' "$T/hub.log"; false; }
  # pebble validated through the relay, which answered from the hub's files
  grep -q 'key=hub.test route=acme-challenge outcome=acme ' "$T/relay.log"

  bg tunnel nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername hub.test \
    --cafile "$T/pebble-root.pem" --secret-file "$T/hub.secret" --name app \
    --hostname app.test --to "127.0.0.1:$WEB_PORT" -v
  wait_backends 1
  wait_log "$T/relay.log" 'msg="hub connected"' 1 20
  run curl -sS --max-time 20 --resolve "app.test:$RELAY_PORT:127.0.0.1" "http://app.test:$RELAY_PORT/who"
  assert_output app

  wait_log "$T/hub.log" 'msg="acme certificate installed"' 2 90
  local s2; s2=$(hub_serial)
  echo "# serials: first $s1, after renewal $s2" >&3
  [ -n "$s2" ]
  [ "$s1" != "$s2" ]
  grep -q "msg=\"acme certificate installed\".*serial=$s2 " "$T/hub.log" ||
    { echo "s_client saw serial '$s2'; the hub logged:"; grep 'msg="acme' "$T/hub.log"; false; }
  # the session made with the first certificate is still the one serving
  run curl -sS --max-time 20 --resolve "app.test:$RELAY_PORT:127.0.0.1" "http://app.test:$RELAY_PORT/who"
  assert_output app
  run grep -c 'msg="backend registered"' "$T/hub.log"
  assert_output 1
  run grep -c 'msg="backend session ended"' "$T/hub.log"
  assert_output 0
  # a new tunnel connection verifies the new certificate
  bg tunnel2 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername hub.test \
    --cafile "$T/pebble-root.pem" --secret-file "$T/hub.secret" --name app2 \
    --hostname app2.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 2
}

@test "a restarted hub loads the certificate it has (SIGHUP keeps it), a new name orders at once" {
  start_pebble
  start_acme_hub
  wait_log "$T/hub.log" 'msg="acme certificate installed"' 1 60
  local s1; s1=$(hub_serial)
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  mv "$T/hub.log" "$T/hub1.log"
  start_acme_hub
  wait_log "$T/hub.log" 'msg="acme certificate loaded"' 1 30
  assert_equal "$(hub_serial)" "$s1"
  run grep -c 'acme ordering' "$T/hub.log"
  assert_output 0
  # SIGHUP re-reads the rest of the configuration and keeps the ACME certificate
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded" cert=acme '
  assert_equal "$(hub_serial)" "$s1"
  # one more --hub-hostname: the stored certificate lacks it, so the hub orders at once
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  mv "$T/hub.log" "$T/hub2.log"
  start_acme_hub --hub-hostname hub2.test
  wait_log "$T/hub.log" 'msg="acme certificate lacks a --hub-hostname, ordering now"' 1 30
  wait_log "$T/hub.log" 'msg="acme certificate installed"' 1 60
  run openssl x509 -in "$T/acme/cert.pem" -noout -ext subjectAltName
  assert_output --partial 'DNS:hub.test, DNS:hub2.test'
}
