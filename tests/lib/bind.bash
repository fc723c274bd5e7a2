# Scenarios for nexus-bind, written once and run against both stores: tests/bind-sqlite.bats
# and tests/bind-pg.bats call them after choosing BIND_BACKEND.
#   BIND_BACKEND=sqlite: a fresh database file per test.
#   BIND_BACKEND=pg:     one PostgreSQL server per suite (setup_file), a fresh database per test.

# bind_file_setup / bind_file_teardown: setup_file / teardown_file of the suites.
bind_file_setup() {
  if [ "$BIND_BACKEND" = pg ]; then
    # not under the bats temp dir: the server runs as `postgres`, which cannot enter it
    PG_DIR=$(mktemp -d /tmp/nexus-bind-pg.XXXXXX) || return 1
    export PG_DIR
    PG_URI=$("$NEXUS_SRC/scripts/pg-temp" start "$PG_DIR") || return 1
    export PG_URI
  fi
}
bind_file_teardown() {
  if [ "$BIND_BACKEND" = pg ] && [ -n "${PG_DIR:-}" ]; then
    "$NEXUS_SRC/scripts/pg-temp" stop "$PG_DIR"
  fi
}

# suite_setup runs before each test (tests/lib/common.bash): pick a fresh database.
suite_setup() {
  export NEXUS_BIND_KEY="$T/bind.key"
  export NEXUS_DENY_LIST="$T/deny.list"
  if [ "$BIND_BACKEND" = pg ]; then
    local name="t${BATS_SUITE_TEST_NUMBER}_$$"
    psql "$PG_URI" -qc "CREATE DATABASE $name" >/dev/null
    export NEXUS_DB="${PG_URI%/*}/$name"
  else
    export NEXUS_DB="$T/bind.db"
  fi
}

# sql QUERY: run a query on the test database, one row per line, columns tab-separated.
sql() {
  if [ "$BIND_BACKEND" = pg ]; then
    psql "$NEXUS_DB" -AtqX -F $'\t' -c "$1"
  else
    sqlite3 -cmd ".timeout 10000" -separator $'\t' "$NEXUS_DB" "$1"
  fi
}

new_code() { nexus-bind code --owner "${1:-alice}" "${@:2}"; }

scenario_pair_and_show() {
  code=$(new_code alice --scope tunnel --scope telemetry)
  [[ "$code" =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}$ ]]
  run nexus-bind claim "$code" --device dev-1
  assert_success
  echo "$output" | jq -e '.sub == "dev-1" and .owner == "alice" and .scope == "tunnel telemetry"
    and (.jti | length) >= 16 and (.bound_at | type) == "number"'
  jti=$(echo "$output" | jq -r .jti)
  run nexus-bind ls --owner alice --json
  assert_success
  echo "$output" | jq -e 'length == 1 and .[0].device == "dev-1"'
  run nexus-bind ls --owner bob --json
  assert_output '[]'
  run nexus-bind ls
  assert_line --partial 'dev-1'
  run nexus-bind show dev-1
  assert_success
  echo "$output" | jq -e --arg j "$jti" '.bound and .owner == "alice" and .tokens[0].jti == $j'
  run nexus-bind show nope
  assert_failure 1
  assert_output --partial 'no device nope'
}

scenario_code_typed_loosely() {
  code=$(new_code)
  typed=$(echo "$code" | tr 'A-Z' 'a-z' | tr -d '-' | sed 's/1/l/g; s/0/o/g')
  run nexus-bind claim "$typed" --device dev-1
  assert_success
}

scenario_code_stored_hashed() {
  code=$(new_code)
  run sql "SELECT hash, selector FROM codes"
  assert_success
  refute_output --partial "${code/-/}"
  [ "$(echo "$output" | cut -f1 | wc -c)" -ge 64 ]
}

scenario_reused_code_refused() {
  code=$(new_code)
  run nexus-bind claim "$code" --device dev-1
  assert_success
  run nexus-bind claim "$code" --device dev-2
  assert_failure 1
  assert_output 'nexus-bind: pairing code already used'
  run nexus-bind show dev-2
  assert_failure 1
}

scenario_wrong_and_malformed_codes() {
  new_code >/dev/null
  run nexus-bind claim 0000-0000 --device dev-1
  assert_failure 1
  assert_output 'nexus-bind: wrong pairing code'
  run nexus-bind claim 'AB!D-EFGH' --device dev-1
  assert_failure 1
  assert_output --partial "'!' is not a pairing code character"
  run nexus-bind claim ABC --device dev-1
  assert_failure 1
  assert_output --partial 'too short'
  run nexus-bind ls --json
  assert_output '[]'
}

scenario_expired_code() {
  code=$(new_code alice --ttl 1s)
  sleep 1.3
  run nexus-bind claim "$code" --device dev-1
  assert_failure 1
  assert_output 'nexus-bind: pairing code expired'
}

# Wrong guesses that name a live code (same first three characters) count against it.
scenario_lock_after_five_failures() {
  code=$(new_code)
  plain=${code/-/}
  sel=${plain:0:3}
  n=0
  for rest in 00000 11111 22222 33333 44444 55555; do
    [ "$rest" = "${plain:3:5}" ] && continue
    n=$((n + 1)); [ "$n" -gt 5 ] && break
    run nexus-bind --fail-rate 100 claim "$sel$rest" --device dev-x
    assert_failure 1
    assert_output 'nexus-bind: wrong pairing code'
  done
  run sql "SELECT failures FROM codes WHERE selector = '$sel'"
  assert_output 5
  run nexus-bind --fail-rate 100 claim "$code" --device dev-1
  assert_failure 1
  assert_output 'nexus-bind: pairing code locked after too many wrong attempts'
}

scenario_global_rate_limit() {
  code=$(new_code)
  for g in 0000-0001 0000-0002 0000-0003; do
    run nexus-bind --fail-rate 3 claim "$g" --device dev-x
    assert_failure 1
    assert_output 'nexus-bind: wrong pairing code'
  done
  run nexus-bind --fail-rate 3 claim "$code" --device dev-1
  assert_failure 1
  assert_output --partial 'too many failed claims'
  # a throttled attempt does not use the code up
  run nexus-bind --fail-rate 100 claim "$code" --device dev-1
  assert_success
}

scenario_bound_elsewhere_refused_until_unbind() {
  code=$(new_code alice)
  nexus-bind claim "$code" --device dev-1 >/dev/null
  code2=$(new_code bob)
  run nexus-bind claim "$code2" --device dev-1
  assert_failure 1
  assert_output --partial 'bound to another owner; an operator must unbind it first'
  run nexus-bind show dev-1
  echo "$output" | jq -e '.owner == "alice"'
  run nexus-bind unbind dev-1
  assert_success
  run nexus-bind unbind dev-1
  assert_failure 1
  assert_output --partial 'not bound'
  # the refused attempt left bob's code unused
  run nexus-bind claim "$code2" --device dev-1
  assert_success
  echo "$output" | jq -e '.owner == "bob"'
}

# Two processes claim the same code at the same moment, 8 rounds: exactly one wins each.
scenario_claim_race() {
  for round in 1 2 3 4 5 6 7 8; do
    code=$(new_code)
    rm -f "$T/go"
    for who in a b; do
      (while [ ! -e "$T/go" ]; do :; done
       rc=0
       nexus-bind claim "$code" --device "dev-$round-$who" > "$T/out-$who" 2> "$T/err-$who" || rc=$?
       echo "$rc" > "$T/rc-$who") &
    done
    touch "$T/go"
    wait
    wins=$(cat "$T/rc-a" "$T/rc-b" | grep -c '^0$' || true)
    if [ "$wins" != 1 ]; then
      cat "$T"/err-* "$T"/out-* >&2
      return 1
    fi
    grep -h 'already used' "$T/err-a" "$T/err-b"
  done
  run sql "SELECT count(*) FROM bindings"
  assert_output 8
}

scenario_revoke_and_reissue() {
  code=$(new_code)
  j1=$(nexus-bind claim "$code" --device dev-1 | jq -r .jti)
  run nexus-bind reissue dev-1
  assert_success
  j2=$(echo "$output" | jq -r .jti)
  [ "$j1" != "$j2" ]
  run nexus-bind reissue dev-1 --jti my-own-id
  assert_success
  echo "$output" | jq -e '.jti == "my-own-id" and .sub == "dev-1"'
  run nexus-bind reissue dev-1 --jti my-own-id
  assert_failure 1
  assert_output --partial 'already recorded'
  run nexus-bind revoke dev-1
  assert_success
  assert_line "$j1"
  assert_line "$j2"
  assert_line my-own-id
  grep -q "^$j1 " "$NEXUS_DENY_LIST"
  grep -q "^my-own-id " "$NEXUS_DENY_LIST"
  run nexus-bind ls --json
  assert_output '[]'
  run nexus-bind show dev-1
  echo "$output" | jq -e '(.bound | not) and (.tokens | all(.revoked_at != null))'
  run nexus-bind revoke ghost
  assert_failure 1
  run nexus-bind reissue ghost
  assert_failure 1
}

scenario_audit_trail() {
  code=$(new_code alice --scope s1)
  NEXUS_BIND_ORIGIN=192.0.2.7 nexus-bind claim "$code" --device dev-1 >/dev/null
  NEXUS_BIND_ORIGIN=192.0.2.8 nexus-bind claim 0000-0000 --device dev-2 2>/dev/null || true
  nexus-bind unbind dev-1
  run nexus-bind audit --since 1h
  assert_success
  assert_line --regexp '^[0-9T:Z-]+ code owner=alice actor=[^ ]+ origin=local:.* detail=s1$'
  assert_line --regexp 'claim device=dev-1 owner=alice actor=[^ ]+ origin=192.0.2.7'
  assert_line --regexp 'claim-failed device=dev-2 .*origin=192.0.2.8 detail="wrong pairing code"'
  assert_line --regexp 'unbind device=dev-1 owner=alice'
  run nexus-bind audit --json
  echo "$output" | jq -e 'length == 4 and .[1].action == "claim"'
  run nexus-bind audit --since 2099-01-01
  assert_output ''
  run nexus-bind audit --since yesterday
  assert_failure 2
}

scenario_usage_errors() {
  run nexus-bind code
  assert_failure 2
  assert_output --partial '--owner is required'
  run nexus-bind frobnicate
  assert_failure 2
  run nexus-bind code --owner alice --ttl 5x
  assert_failure 2
  run nexus-bind claim ABCD-EFGH
  assert_failure 2
  assert_output --partial '--device is required'
  run nexus-bind claim ABCD-EFGH --device 'has space'
  assert_failure 2
  run nexus-bind show
  assert_failure 2
  run nexus-bind --help
  assert_success
  assert_output --partial 'usage: nexus-bind'
  run nexus-bind --version
  assert_success
  assert_output --regexp '^nexus-bind [0-9]'
}

scenario_code_not_for_devices() {
  run env TCPREMOTEIP=192.0.2.9 nexus-bind code --owner mallory
  assert_failure 1
  assert_output --partial 'code refused: this nexus-bind serves a network peer'
  code=$(new_code alice)
  run env TCPREMOTEIP=192.0.2.9 nexus-bind claim "$code" --device dev-1
  assert_success
  run nexus-bind audit
  assert_line --regexp 'claim device=dev-1 owner=alice .*origin=192.0.2.9'
}

scenario_qr() {
  run nexus-bind code --owner alice --qr
  assert_success
  [[ "${lines[0]}" =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}$ ]]
  [ "${#lines[@]}" -gt 10 ]
  assert_output --partial '█'
  run nexus-bind code --owner alice --json
  echo "$output" | jq -e '(.code | test("^[0-9A-Z]{4}-[0-9A-Z]{4}$")) and .owner == "alice"'
}

# 100 000 lines over 1000 devices, in kcat's "key<TAB>value" shape for some of them:
# every device's stored state is exactly its last line.
scenario_ingest_last_line_wins() {
  awk 'BEGIN { for (i = 0; i < 100000; i++) {
      d = "dev" (i * 7919 % 1000)
      if (i % 3 == 0) printf "%s\t{\"seq\":%d,\"t\":%d.5}\n", d, i, i % 40
      else printf "{\"id\":\"%s\",\"seq\":%d,\"t\":%d.5}\n", d, i, i % 40 } }' > "$T/in"
  run nexus-bind ingest --json < "$T/in"
  assert_success
  echo "$output" | jq -e '.lines == 100000 and .bad == 0'
  awk '{ if (index($0, "\t")) { split($0, a, "\t"); d = a[1]; s = a[2] }
         else { d = $0; sub(/^\{"id":"/, "", d); sub(/".*/, "", d); s = $0 }
         last[d] = s } END { for (d in last) print d "\t" last[d] }' "$T/in" | sort > "$T/want"
  sql "SELECT device, state FROM device_state ORDER BY device" | sort > "$T/got"
  [ "$(wc -l < "$T/got")" -eq 1000 ]
  diff "$T/want" "$T/got"
}

scenario_ingest_bad_lines() {
  printf '%s\n' '{"id":"a","v":1}' 'not json' '[1,2]' '{"v":2}' '{"id":"has space","v":3}' \
    '{"id":{"x":1},"v":4}' '{"dev":{"sn":"b"},"v":5}' '{"id":"a","v":6' '' '{"id":42,"v":7}' \
    > "$T/in"
  printf '{"id":"c","big":"%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' x)" >> "$T/in"
  printf '{"id":"a","v":8}' >> "$T/in"   # no final newline: still a line
  run nexus-bind ingest < "$T/in"
  assert_success
  assert_output --partial 'line 2: not a JSON object'
  assert_output --partial 'line 3: not a JSON object'
  assert_output --partial 'no device id'
  assert_output --partial 'line too long'
  assert_output --partial '11 lines, 8 bad'
  run sql "SELECT device, state FROM device_state ORDER BY device"
  assert_output $'42\t{"id":42,"v":7}\na\t{"id":"a","v":8}'
  printf '%s\n' '{"dev":{"sn":"b"},"v":5}' | nexus-bind ingest --id-field dev.sn
  run sql "SELECT state FROM device_state WHERE device = 'b'"
  assert_output '{"dev":{"sn":"b"},"v":5}'
}

# Killed in the middle of an ingest: every committed batch is whole, the store is sound,
# and the next ingest carries on. Each line is a new device, so the number of stored
# devices must be a multiple of the batch size.
scenario_ingest_killed_midway() {
  mkfifo "$T/fifo"
  awk 'BEGIN { for (i = 0; i < 2000000; i++) printf "{\"id\":\"d%d\",\"n\":%d}\n", i, i }' > "$T/fifo" &
  gen=$!
  nexus-bind ingest --batch 1000 < "$T/fifo" 2> "$T/ingest.err" &
  pid=$!
  for i in $(seq 200); do
    n=$(sql "SELECT count(*) FROM device_state" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 3000 ] && break
    sleep 0.05
  done
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  kill "$gen" 2>/dev/null || true
  wait "$gen" 2>/dev/null || true
  n=$(sql "SELECT count(*) FROM device_state")
  echo "devices after kill: $n"
  [ "$n" -ge 3000 ]
  [ $((n % 1000)) -eq 0 ]
  if [ "$BIND_BACKEND" = sqlite ]; then
    run sqlite3 "$NEXUS_DB" 'PRAGMA integrity_check'
    assert_output ok
  fi
  run sql "SELECT state FROM device_state WHERE device = 'd0'"
  assert_output '{"id":"d0","n":0}'
  echo '{"id":"after","n":1}' | nexus-bind ingest
  run sql "SELECT count(*) FROM device_state"
  assert_output $((n + 1))
}

scenario_concurrent_first_use() {
  # (a writing verb: ls, show and audit never create a database)
  for i in 1 2 3 4; do nexus-bind ingest < /dev/null > "$T/ls$i" 2>&1 & done
  wait
  run sql "SELECT v FROM meta WHERE k = 'schema'"
  assert_output 3   # v3: browser sessions
  run cat "$T/ls1" "$T/ls2" "$T/ls3" "$T/ls4"
  refute_output --partial 'error'
  refute_output --partial 'locked'
  assert_line --index 3 --partial 'nexus-bind: 0 lines, 0 bad'
}

scenario_key_mismatch() {
  new_code >/dev/null
  head -c 32 /dev/urandom > "$T/other.key"
  run nexus-bind --key "$T/other.key" code --owner alice
  assert_failure 1
  assert_output --partial 'pairing key is not the one this database was set up with'
}

# A live stream (kcat -C never ends): a partial batch commits after --flush of quiet
# input, and SIGTERM commits what was read before exiting 0.
scenario_ingest_stream_flush_and_term() {
  mkfifo "$T/fifo"
  nexus-bind ingest --flush 200ms < "$T/fifo" 2> "$T/err1" &
  pid=$!
  exec 5> "$T/fifo"
  echo '{"id":"s1","v":1}' >&5
  for i in $(seq 100); do
    [ "$(sql "SELECT count(*) FROM device_state" 2>/dev/null)" = 1 ] && break
    sleep 0.05
  done
  run sql "SELECT state FROM device_state"
  assert_output '{"id":"s1","v":1}'
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  exec 5>&-
  [ "$rc" -eq 0 ]
  rm "$T/fifo"; mkfifo "$T/fifo"
  nexus-bind ingest --flush 1h < "$T/fifo" 2> "$T/err2" &
  pid=$!
  exec 5> "$T/fifo"
  echo '{"id":"s2","v":2}' >&5
  sleep 0.5
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  exec 5>&-
  [ "$rc" -eq 0 ]
  run cat "$T/err2"
  assert_output --partial '1 lines, 0 bad, 1 device states written'
  run sql "SELECT state FROM device_state WHERE device = 's2'"
  assert_output '{"id":"s2","v":2}'
}

scenario_pubkey_kept() {
  printf -- '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n' > "$T/dev.pub"
  code=$(new_code)
  run nexus-bind claim "$code" --device dev-1 --pubkey "$T/dev.pub"
  assert_success
  run nexus-bind show dev-1
  echo "$output" | jq -e '.pubkey | startswith("-----BEGIN PUBLIC KEY-----")'
  code=$(new_code)
  run nexus-bind claim "$code" --device dev-2 --pubkey "$T/missing.pub"
  assert_failure 1
  assert_output --partial 'missing.pub'
}

scenario_store_errors() {
  run nexus-bind --db postgresql://postgres@127.0.0.1:1/nope ls
  assert_failure 1
  assert_output --partial 'nexus-bind: postgresql:'
  run nexus-bind --db /proc/nope/bind.db ls
  assert_failure 1
  assert_output --partial '/proc/nope'
  run nexus-bind --db 'postgresql://u:secret@127.0.0.1/x' ls
  assert_failure 2
  assert_output --partial 'no passwords on the command line'
  if [ "$BIND_BACKEND" = sqlite ]; then
    nexus-bind ingest < /dev/null > /dev/null 2>&1
    [ "$(stat -c %a "$NEXUS_DB")" = 600 ]
  fi
}

# Claims killed at random moments: whatever the kill interrupted, a used code, a binding,
# a token id and a "claim" audit record exist together or not at all.
scenario_claims_killed_midway() {
  for i in $(seq 24); do
    code=$(new_code)
    nexus-bind claim "$code" --device "dev-$i" >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 10))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  used=$(sql "SELECT count(*) FROM codes WHERE used_at IS NOT NULL")
  bound=$(sql "SELECT count(*) FROM bindings")
  tokens=$(sql "SELECT count(*) FROM tokens")
  claims=$(sql "SELECT count(*) FROM audit WHERE action = 'claim'")
  echo "used=$used bound=$bound tokens=$tokens claims=$claims"
  [ "$used" = "$bound" ] && [ "$bound" = "$tokens" ] && [ "$tokens" = "$claims" ]
  run sql "SELECT count(*) FROM codes c LEFT JOIN bindings b ON b.device = c.device
           WHERE c.used_at IS NOT NULL AND b.device IS NULL"
  assert_output 0
  if [ "$BIND_BACKEND" = sqlite ]; then
    run sqlite3 "$NEXUS_DB" 'PRAGMA integrity_check'
    assert_output ok
  fi
}

scenario_config_file() {
  printf 'db %s\nfail-rate 2\n# a comment\n' "$T/from-config.db" > "$T/bind.conf"
  unset NEXUS_DB
  run nexus-bind --config "$T/bind.conf" code --owner alice
  assert_success
  [ -s "$T/from-config.db" ]
  printf 'nonsense 1\n' > "$T/bad.conf"
  run nexus-bind --config "$T/bad.conf" ls
  assert_failure 2
  assert_output --partial "unknown option 'nonsense'"
}
