#!/usr/bin/env bats
# nexus-bind's defaults must not surprise: a read-only verb on a database that is not there
# is an error naming it (never a new empty database answering "nothing bound"), and revoke
# writes its deny-list where it was told or beside the database, never into /var/lib/nexus
# when NEXUS_DB points elsewhere.
load lib/common

setup_db() {
  export NEXUS_DB="$T/data/bind.db" NEXUS_BIND_KEY="$T/bind.key"
  unset NEXUS_DENY_LIST
  code=$(nexus-bind code --owner alice | head -1)
  nexus-bind claim "$code" --device dev-1 | jq -r .jti > "$T/jti"
}

@test "ls, show and audit on a missing database: exit 1 naming it, nothing created" {
  for verb in ls "show dev-1" audit; do
    # shellcheck disable=SC2086
    NEXUS_DB="$T/nowhere/bind.db" run nexus-bind $verb
    assert_failure 1
    assert_output "nexus-bind: $T/nowhere/bind.db: no such database (a code, claim or ingest creates it; --db or NEXUS_DB names another)"
    # shellcheck disable=SC2086
    run nexus-bind --db "$T/typo.db" $verb
    assert_failure 1
    assert_output --partial "$T/typo.db: no such database"
  done
  assert_not_exist "$T/nowhere"
  assert_not_exist "$T/typo.db"
}

@test "ls, show and audit on an existing database still work" {
  setup_db
  run nexus-bind ls --json
  assert_success
  echo "$output" | jq -e 'length == 1 and .[0].device == "dev-1"'
  run nexus-bind show dev-1
  assert_success
  run nexus-bind audit
  assert_success
  assert_output --partial claim
}

@test "revoke without --deny-list writes beside the database NEXUS_DB names" {
  setup_db
  before=$(stat -c %Y /var/lib/nexus/deny.list 2>/dev/null || echo none)
  run nexus-bind revoke dev-1
  assert_success
  assert_output --partial "added to $T/data/deny.list"
  grep -q "^$(cat "$T/jti") " "$T/data/deny.list"
  [ "$(stat -c %Y /var/lib/nexus/deny.list 2>/dev/null || echo none)" = "$before" ]
}

@test "revoke --deny-list and NEXUS_DENY_LIST are honoured" {
  setup_db
  NEXUS_DENY_LIST="$T/env.list" run nexus-bind reissue dev-1 --jti second-id
  assert_success
  NEXUS_DENY_LIST="$T/env.list" run nexus-bind revoke dev-1 --deny-list "$T/opt.list"
  assert_success
  grep -q '^second-id ' "$T/opt.list"
  assert_not_exist "$T/env.list"
  assert_not_exist "$T/data/deny.list"
}

@test "revoke with a PostgreSQL database and no deny-list is a usage error" {
  unset NEXUS_DENY_LIST
  # (no server at that address: the check comes before any connection)
  NEXUS_DB='postgresql://127.0.0.1:1/none' run nexus-bind revoke dev-1
  assert_failure 2
  assert_output --partial 'revoke with a PostgreSQL database needs --deny-list FILE'
  NEXUS_DB='postgresql://127.0.0.1:1/none?connect_timeout=2' run nexus-bind revoke dev-1 \
    --deny-list "$T/d.list"
  assert_failure 1 # now it tries the server
}
