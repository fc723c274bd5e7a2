#!/usr/bin/env bats
# lib/acme against Debian's pebble: an HTTP-01 certificate through nexus-relay's
# --acme-challenge-dir, account kept on disk, authorizations reused, badNonce retried, and
# a clear error when the directory cannot be reached. Driven by tests/helpers/acme-get.
load lib/common
load lib/tunnel
load lib/acme

suite_setup() {
  mkdir -p "$T/chal" "$T/state"
  RELAY_PORT=$(free_port)
  ACME_HTTP_PORT=$RELAY_PORT
  start_relay --acme-challenge-dir "$T/chal" --acme-host hub.test --acme-host www.hub.test
}

acme_get() {
  "$NEXUS_TESTBIN/acme-get" "$PEBBLE_DIR" "$T/state" "$T/chal" "$T/pebble-ca.pem" "$@" \
    2> "$T/acme.log"
}

@test "a certificate for two names, validated through the relay, chain verifies to pebble's root" {
  start_pebble
  run acme_get hub.test www.hub.test
  cat "$T/acme.log"
  assert_success
  assert_output --regexp '^serial=[0-9A-F]+ not_before=[0-9]+ not_after=[0-9]+$'
  # the account key and the certificate+key file are private
  assert_equal "$(stat -c %a "$T/state/account.key")" 600
  assert_equal "$(stat -c %a "$T/state/cert.pem")" 600
  run openssl x509 -in "$T/state/cert.pem" -noout -ext subjectAltName
  assert_output --partial 'DNS:hub.test, DNS:www.hub.test'
  curl -sS --cacert "$T/pebble-ca.pem" "https://127.0.0.1:$PEBBLE_MGMT/intermediates/0" > "$T/int.pem"
  run openssl verify -CAfile "$T/pebble-root.pem" -untrusted "$T/int.pem" "$T/state/cert.pem"
  assert_success
  # the key in the file is the certificate's
  assert_equal "$(openssl x509 -in "$T/state/cert.pem" -noout -pubkey)" \
               "$(openssl pkey -in "$T/state/cert.pem" -pubout)"
  # pebble fetched the answers through the relay; the files are gone afterwards
  wait_log "$T/relay.log" 'key=hub.test route=acme-challenge outcome=acme '
  wait_log "$T/relay.log" 'key=www.hub.test route=acme-challenge outcome=acme '
  run ls "$T/chal"
  assert_output ''
}

@test "the second order keeps the account and reuses the valid authorization" {
  PEBBLE_AUTHZREUSE=100 start_pebble
  run acme_get hub.test
  assert_success
  grep -q 'acme account key created' "$T/acme.log"
  local key1; key1=$(cat "$T/state/account.key")
  run acme_get hub.test
  cat "$T/acme.log"
  assert_success
  assert_equal "$(cat "$T/state/account.key")" "$key1"
  run grep -c 'acme account key created' "$T/acme.log"
  assert_output 0
  grep -q 'msg="acme authorization already valid, reused" name=hub.test' "$T/acme.log"
}

@test "badNonce answers are retried with the fresh nonce" {
  PEBBLE_WFE_NONCEREJECT=30 start_pebble
  # 30 % of nonces are rejected at random: an order meets none about 3 % of the time, so
  # order again until one did, three times at most
  local i
  for i in 1 2 3; do
    run acme_get hub.test
    cat "$T/acme.log"
    assert_success
    grep -q 'msg="acme badNonce, retrying with the fresh nonce"' "$T/acme.log" && return 0
  done
  echo "no badNonce met in three orders" >&2
  return 1
}

@test "a name the CA cannot validate fails with the CA's reason" {
  start_pebble
  run acme_get nothere.test  # the relay does not answer for it: 502 to the validation
  assert_failure 1
  assert_output --partial 'authorization for nothere.test is invalid'
}

@test "an unreachable directory is a clear error" {
  local port; port=$(free_port)
  run "$NEXUS_TESTBIN/acme-get" "https://127.0.0.1:$port/dir" "$T/state" "$T/chal" "" hub.test
  assert_failure 1
  assert_output --partial "https://127.0.0.1:$port/dir"
  assert_output --partial "onnect"
}

fake_acme() {
  bg fake-acme "$HELPERS/fake-acme" --mode "$1"
  wait_log "$T/fake-acme.log" '^listening '
  FAKE_DIR="http://127.0.0.1:$(awk '/^listening /{print $2; exit}' "$T/fake-acme.log")/dir"
}

@test "rateLimited: the error says when to retry, and the result carries that time" {
  fake_acme ratelimit
  local before; before=$(date +%s)
  run "$NEXUS_TESTBIN/acme-get" "$FAKE_DIR" "$T/state" "$T/chal" "" hub.test
  assert_failure 1
  assert_output --partial 'rate limited (too many new registrations), retry after 120 s'
  local at; at=$(sed -n 's/.*retry_at=\([0-9]*\).*/\1/p' <<<"$output")
  [ "$at" -ge $((before + 120)) ] && [ "$at" -le $(($(date +%s) + 120)) ]
}

@test "untrusted answers: a directory that is not JSON, a token that is not base64url" {
  fake_acme garbage
  run "$NEXUS_TESTBIN/acme-get" "$FAKE_DIR" "$T/state" "$T/chal" "" hub.test
  assert_failure 1
  assert_output --partial 'answer is not a JSON object'
  kill "$BG_PID"
  fake_acme badtoken
  mkdir -p "$T/deep/a/b"
  run "$NEXUS_TESTBIN/acme-get" "$FAKE_DIR" "$T/state" "$T/deep/a/b" "" hub.test
  assert_failure 1
  assert_output --partial 'token that is not base64url'
  run find "$T/deep" -type f
  assert_output ''
}
