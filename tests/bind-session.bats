#!/usr/bin/env bats
# nexus-bind session: a one-time URL to a device's web UI for its owner, with the grant
# bound to device, user, session and host; refusals for other users, missing scope, bad
# tokens and usage errors (exit 2, one line).
load lib/common

suite_setup() {
  export NEXUS_DB="$T/bind.db"
  nexus-token keygen -t es256 -o "$T/grant.key" >/dev/null
  nexus-token keygen -t hs256 -o "$T/users.secret" >/dev/null
  c=$(nexus-bind code --owner alice) && nexus-bind claim "$c" --device dev1 >/dev/null
  tok() { nexus-token issue -k "$T/users.secret" --sub "$1" --ttl 1h ${2:+--scope "$2"} > "$T/$1.tok"; }
  tok alice sessions; tok bob sessions; tok carol ''; tok ops 'sessions:any'
}

session() {
  nexus-bind session "$1" --user-token "$T/$2.tok" --verify-key "$T/users.secret" \
    --grant-key "$T/grant.key" --host '{device}.ui.example.com' "${@:3}"
}

@test "the owner gets a URL whose grant is bound to device, user, session and host" {
  run session dev1 alice --json
  assert_success
  url=$(jq -r .url <<<"$output"); sid=$(jq -r .session <<<"$output")
  [[ "$url" == "https://dev1.ui.example.com/?nx="* ]]
  run nexus-token verify -k "$T/grant.key.pub" --iss nexus-bind --aud dev1.ui.example.com "${url#*nx=}"
  assert_success
  jq -e --arg s "$sid" '.typ == "nx-grant" and .sub == "alice" and .dev == "dev1" and .sid == $s
                        and .exp - .iat == 60 and .sexp - .iat == 900 and (.jti | length) > 0' <<<"$output"
  # recorded and audited
  run sqlite3 "$NEXUS_DB" "SELECT device, owner, usr, host FROM sessions WHERE id = '$sid'"
  assert_output 'dev1|alice|alice|dev1.ui.example.com'
  nexus-bind audit | grep -q "session device=dev1 owner=alice .*session $sid"
  # --ttl sets the session's length
  run session dev1 alice --json --ttl 2m
  jq -e '.expires_at - .grant_expires_at == 60' <<<"$output"
}

@test "another user, a token without the scope, a bad token: refused (exit 1, one line)" {
  run session dev1 bob
  assert_failure 1
  assert_output 'nexus-bind: no device dev1 bound to bob'
  run session nope alice
  assert_output 'nexus-bind: no device nope bound to alice'
  run session dev1 carol
  assert_output 'nexus-bind: the user token lacks the scope sessions'
  echo garbage > "$T/bad.tok"
  run session dev1 bad
  assert_failure 1
  assert_output --partial "nexus-bind: $T/bad.tok: invalid user token"
  # an operator token with sessions:any may open any device
  run session dev1 ops
  assert_success
  run sqlite3 "$NEXUS_DB" "SELECT owner, usr FROM sessions WHERE usr = 'ops'"
  assert_output 'alice|ops'
}

@test "usage errors: missing options, options of other verbs, a grant key that is not EC" {
  run nexus-bind session dev1 --user-token "$T/alice.tok"
  assert_failure 2
  assert_line --index 0 'nexus-bind: session needs --user-token, --verify-key, --grant-key and --host'
  assert_line --index 1 "try 'nexus-bind --help'"
  run nexus-bind ls --user-token "$T/alice.tok"
  assert_failure 2
  assert_line --index 0 'nexus-bind: --user-token is an option of session'
  run nexus-bind serve --grant-key "$T/grant.key"
  assert_failure 2
  assert_line --index 0 'nexus-bind: serve: --grant-key and --host go together'
  run nexus-bind session dev1 --user-token "$T/alice.tok" --verify-key "$T/users.secret" \
    --grant-key "$T/users.secret" --host x.test
  assert_failure 1
  assert_output 'nexus-bind: the grant signing key must be an EC P-256 private key'
  run session dev1 alice --host 'bad host'
  assert_failure 1
  assert_output --partial "session host 'bad host'"
}
