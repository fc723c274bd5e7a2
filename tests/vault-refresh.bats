#!/usr/bin/env bats
# nexus-vault refresh: the refresh_token grant against a token endpoint on loopback
# (tests/lib/token-endpoint.py). Old refresh token kept when none comes back; a provider
# error or a provider that is down leaves the record intact; two refreshers at once
# refresh a record once.
load lib/vault

start_endpoint() {
  echo "${1:-ok}" > "$T/mode"
  PORT=$(free_port)
  bg endpoint python3 "$NEXUS_SRC/tests/lib/token-endpoint.py" "$PORT" "$T"
  wait_file "$T/ready"; wait_port "$PORT"
  EP="http://127.0.0.1:$PORT/token"
}

# put_oauth NAME EXPIRES_AT: an oauth credential at the test endpoint
put_oauth() {
  vput "$1" "{\"type\":\"oauth\",\"access_token\":\"at-old\",\"refresh_token\":\"rt-old\",\"expires_at\":$2,\"token_endpoint\":\"$EP\",\"client_id\":\"cli\",\"scopes\":\"read\"}"
}

field() { nexus-vault -k "$T/k1" get "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }

@test "refresh: what expires within --before is refreshed; the old refresh token is kept" {
  start_endpoint ok
  now=$(date +%s)
  put_oauth soon $((now + 60))
  put_oauth later $((now + 7200))
  vput plain '{"type":"bearer","token":"b"}'
  run nexus-vault -k "$T/k1" refresh --before 5m
  assert_success
  assert_output 'nexus-vault: soon: refreshed'
  [ "$(field soon access_token)" = at-new-1 ]
  [ "$(field soon refresh_token)" = rt-old ]
  exp=$(field soon expires_at)
  [ "$exp" -ge $((now + 3500)) ]
  [ "$(field later access_token)" = at-old ]
  run nexus-vault -k "$T/k1" header soon
  assert_output 'Authorization: Bearer at-new-1'
  # the grant the provider saw
  run cat "$T/requests"
  assert_output '{"grant_type": "refresh_token", "refresh_token": "rt-old", "client_id": "cli"}'
  # a longer margin takes the other one too; a returned refresh token replaces the old
  echo rotate > "$T/mode"
  run nexus-vault -k "$T/k1" refresh later --before 3h
  assert_success
  [ "$(field later refresh_token)" = rt-new-2 ]
  # neither secret in the database
  run grep -a -l -e at-new -e rt-new -e rt-old "$T"/vault.db*
  assert_failure 1
}

@test "a provider error or a provider that is down leaves the stored record intact" {
  start_endpoint error
  put_oauth s 1
  before=$(vsql "SELECT hex(record) FROM secrets WHERE name='s'")
  run nexus-vault -k "$T/k1" refresh s
  assert_failure 1
  assert_output "nexus-vault: s: not refreshed, the stored credential is unchanged: $EP: HTTP 400: invalid_grant"
  [ "$(vsql "SELECT hex(record) FROM secrets WHERE name='s'")" = "$before" ]
  kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
  run nexus-vault -k "$T/k1" refresh
  assert_failure 1
  assert_output --partial "s: not refreshed, the stored credential is unchanged: $EP"
  [ "$(vsql "SELECT hex(record) FROM secrets WHERE name='s'")" = "$before" ]
  [ "$(field s access_token)" = at-old ]
}

@test "two refreshers at once refresh a record once" {
  start_endpoint slow
  put_oauth a 1
  put_oauth b 1
  nexus-vault -k "$T/k1" refresh > "$T/r1.out" 2>&1 &
  p1=$!
  nexus-vault -k "$T/k1" refresh > "$T/r2.out" 2>&1 &
  p2=$!
  wait "$p1"; wait "$p2"
  cat "$T/r1.out" "$T/r2.out"
  [ "$(wc -l < "$T/requests")" = 2 ]
  [ "$(cat "$T/r1.out" "$T/r2.out" | grep -c ': refreshed')" = 2 ]
  run field a access_token
  assert_output --regexp '^at-new-[12]$'
}

@test "refresh: a named credential that cannot be refreshed, bad names and margins" {
  vput plain '{"type":"bearer","token":"b"}'
  run nexus-vault -k "$T/k1" refresh plain
  assert_failure 1
  assert_output --partial 'plain: not refreshed'
  run nexus-vault -k "$T/k1" refresh missing
  assert_failure 1
  assert_output --partial "no credential named 'missing'"
  run nexus-vault -k "$T/k1" refresh --before 5x
  assert_failure 2
  run nexus-vault -k "$T/k1" refresh ../x
  assert_failure 2
}
