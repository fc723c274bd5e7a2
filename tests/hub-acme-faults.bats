#!/usr/bin/env bats
# nexus-hub --acme-directory when things go wrong: an ACME server that cannot be reached is
# one clear log line and a later retry while the hub keeps serving with the certificate it
# has (--cert) or refuses backends until it has one; badNonce answers are retried; option
# mistakes are usage errors.
load lib/common
load lib/tunnel
load lib/acme

acme_hub() {
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --secret-file "$T/hub.secret" \
    --relay-socket "$T/hub.sock" --acme-email ops@hub.test --hub-hostname hub.test \
    --acme-dir "$T/acme" -v "$@"
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
}

suite_setup() {
  tunnel_keys
  mkdir -p "$T/acme/challenges"
}

@test "unreachable directory with --cert: logged with the URL, the hub serves with --cert" {
  local dead; dead=$(free_port)
  acme_hub --acme-directory "https://127.0.0.1:$dead/dir" --cert "$T/hub.crt" --key "$T/hub.key"
  wait_log "$T/hub.log" 'msg="acme failed"' 1 30
  run grep 'msg="acme failed"' "$T/hub.log"
  assert_output --partial "https://127.0.0.1:$dead/dir"
  assert_output --partial 'certificate=kept'
  assert_output --regexp 'retry_in_s=[0-9]+'
  start_tunnel t --hostname app.test --to 127.0.0.1:9
  wait_backends 1
  kill -0 "$HUB_PID"
}

@test "unreachable directory and no certificate: backends are refused, the hub keeps running" {
  local dead; dead=$(free_port)
  acme_hub --acme-directory "https://127.0.0.1:$dead/dir"
  wait_log "$T/hub.log" 'msg="acme failed".*certificate=none' 1 30
  run timeout 10 openssl s_client -connect "127.0.0.1:$HUB_PORT" -servername hub.test </dev/null
  assert_failure
  wait_log "$T/hub.log" 'no certificate yet'
  kill -0 "$HUB_PID"
}

@test "rateLimited: the hub logs the CA's retry time and waits that long" {
  bg fake-acme "$HELPERS/fake-acme" --mode ratelimit
  wait_log "$T/fake-acme.log" '^listening '
  acme_hub --acme-directory "http://127.0.0.1:$(awk '/^listening /{print $2}' "$T/fake-acme.log")/dir" \
    --cert "$T/hub.crt" --key "$T/hub.key"
  wait_log "$T/hub.log" 'msg="acme failed"' 1 30
  run grep 'msg="acme failed"' "$T/hub.log"
  assert_output --partial 'rate limited (too many new registrations), retry after 120 s'
  assert_output --regexp 'retry_in_s=1(1[0-9]|20) certificate=kept'
}

@test "the ACME process holds none of the hub's sockets (a closed session really closes)" {
  bg fake-acme "$HELPERS/fake-acme" --mode hang
  wait_log "$T/fake-acme.log" '^listening '
  acme_hub --acme-directory "http://127.0.0.1:$(awk '/^listening /{print $2}' "$T/fake-acme.log")/dir" \
    --cert "$T/hub.crt" --key "$T/hub.key"
  start_tunnel t --hostname app.test --to 127.0.0.1:9
  wait_backends 1
  wait_log "$T/hub.log" 'msg="acme ordering a certificate"'
  local child="" i
  for i in $(seq 100); do child=$(pgrep -P "$HUB_PID" | head -1); [ -n "$child" ] && break; sleep 0.1; done
  [ -n "$child" ]
  socks() { ls -l "/proc/$1/fd" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | sort -u; }
  local hub_socks; hub_socks=$(socks "$HUB_PID")
  [ -n "$hub_socks" ]
  run comm -12 <(echo "$hub_socks") <(socks "$child")
  assert_output ''
}

@test "badNonce from the server is retried and the certificate still arrives" {
  RELAY_PORT=$(free_port)
  ACME_HTTP_PORT=$RELAY_PORT
  start_relay --acme-challenge-dir "$T/acme/challenges" --acme-host hub.test
  PEBBLE_WFE_NONCEREJECT=30 start_pebble
  # pebble rejects 30 % of nonces at random: an order of ~10 signed requests meets none
  # about 3 % of the time, so order again (a fresh hub) until one did, three times at most
  local i
  for i in 1 2 3; do
    acme_hub --acme-directory "$PEBBLE_DIR" --acme-ca "$T/pebble-ca.pem"
    wait_log "$T/hub.log" 'msg="acme certificate installed"' 1 90
    grep -q 'msg="acme badNonce, retrying with the fresh nonce"' "$T/hub.log" && return 0
    kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
    rm -rf "$T/acme/cert.pem" "$T/hub.sock"; mv "$T/hub.log" "$T/hub-$i.log"
  done
  echo "no badNonce met in three orders" >&2
  return 1
}

@test "option mistakes are usage errors" {
  run nexus-hub --listen 127.0.0.1:1 --secret-file "$T/hub.secret" --relay-socket "$T/s" \
    --acme-directory https://127.0.0.1:1/dir --acme-dir "$T/acme"
  assert_failure 2
  assert_line --index 0 'nexus-hub: --acme-directory needs --hub-hostname NAME'
  run env -u STATE_DIRECTORY nexus-hub --listen 127.0.0.1:1 --secret-file "$T/hub.secret" \
    --relay-socket "$T/s" --acme-directory https://127.0.0.1:1/dir --hub-hostname hub.test
  assert_failure 2
  assert_line --index 0 'nexus-hub: --acme-directory needs --acme-dir DIR'
  run nexus-hub --listen 127.0.0.1:1 --secret-file "$T/hub.secret" --relay-socket "$T/s" \
    --cert "$T/hub.crt" --key "$T/hub.key" --hub-hostname hub.test
  assert_failure 2
  assert_line --index 0 --partial 'need --acme-directory URL'
  run nexus-hub --listen 127.0.0.1:1 --secret-file "$T/hub.secret" --relay-socket "$T/s" \
    --acme-directory https://127.0.0.1:1/dir --acme-dir "$T/acme" --hub-hostname 'no good'
  assert_failure 2
  assert_line --index 0 --partial 'nexus-hub: --hub-hostname:'
}
