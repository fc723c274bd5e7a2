#!/usr/bin/env bats
# nexus-vault connect against a real OpenID provider (npm oidc-provider on 127.0.0.1, as in
# the nexus-token login suites): the code flow with PKCE stores an access and a refresh
# token sealed in the vault; get and header use it; refresh before expiry gets a new access
# token (and the rotated refresh token); a provider that is down leaves the record intact.
load lib/vault
load lib/oidc

setup_file() { oidc_install; }

# connect_bg NAME [options]: `nexus-vault connect NAME` in the background, output in
# $T/c.out / $T/c.err (the URL to open), pid CONNECT_PID
connect_bg() {
  local name=$1; shift
  nexus-vault -k "$T/k1" connect "$name" --issuer "$ISSUER" --timeout 60s "$@" \
    > "$T/c.out" 2> "$T/c.err" &
  CONNECT_PID=$!
  NX_PIDS+=("$CONNECT_PID")
}

# finish_browser: play the browser for the URL connect printed, deliver the redirect
finish_browser() {
  local url cb
  url=$(wait_line "$T/c.err" "^$ISSUER/auth\\?")
  [[ "$url" == *offline_access* && "$url" == *prompt=consent* && "$url" == *code_challenge_method=S256* ]]
  cb=$(browse "$url")
  run curl -sS --max-time 30 "$cb"
  assert_output --partial 'Logged in'
}

field() { nexus-vault -k "$T/k1" get "$1" --json | jq -r ".$2"; }

@test "connect: the code flow stores an access and a refresh token; get, header and ls use them" {
  OIDC_ACCESS_TTL=600 start_oidc
  connect_bg files --client-id nexus-vault --scope files:read
  finish_browser
  wait "$CONNECT_PID"
  run cat "$T/c.err"
  assert_output --partial 'nexus-vault: to connect files, open this URL in a browser:'
  assert_output --partial 'nexus-vault: files: connected'
  nexus-vault -k "$T/k1" get files --json | jq -e --arg i "$ISSUER" '.type == "oauth"
    and (.access_token | length) > 20 and (.refresh_token | length) > 20
    and .issuer == $i and .client_id == "nexus-vault" and .token_endpoint == ($i + "/token")
    and (.scopes | test("files:read")) and (.scopes | test("offline_access"))
    and .expires_at > now and .expires_at <= now + 601'
  at=$(field files access_token)
  rt=$(field files refresh_token)
  run nexus-vault -k "$T/k1" get files
  assert_output "$at"
  run nexus-vault -k "$T/k1" header files
  assert_output "Authorization: Bearer $at"
  # the provider takes the access token: its userinfo endpoint answers for alice
  run curl -sS --max-time 30 -H "Authorization: Bearer $at" "$ISSUER/me"
  echo "$output" | jq -e '.sub == "alice"'
  run nexus-vault -k "$T/k1" ls
  assert_output --regexp '^files	oauth	20'
  # sealed: neither token is anywhere in the database files
  for f in "$NEXUS_VAULT_DB"*; do
    if grep -qF -e "$at" -e "$rt" "$f"; then echo "a token in plaintext in $f"; return 1; fi
  done
  # and nothing secret went to the terminal
  refute_output --partial "$at"
  run cat "$T/c.err"
  refute_output --partial "$at"
  refute_output --partial "$rt"
}

@test "refresh before expiry: a new access token from the provider, the rotated refresh token kept working" {
  OIDC_ACCESS_TTL=120 start_oidc
  connect_bg files --client-id nexus-vault
  finish_browser
  wait "$CONNECT_PID"
  at1=$(field files access_token); rt1=$(field files refresh_token)
  # 120 s left: not due with a 1 minute margin, due with 5 minutes
  run nexus-vault -k "$T/k1" refresh files --before 1m
  assert_success
  refute_output --partial refreshed
  run nexus-vault -k "$T/k1" refresh files --before 5m
  assert_success
  assert_output 'nexus-vault: files: refreshed'
  at2=$(field files access_token); rt2=$(field files refresh_token)
  [ "$at2" != "$at1" ]
  [ -n "$rt2" ] && [ "$rt2" != null ]
  run curl -sS --max-time 30 -H "Authorization: Bearer $at2" "$ISSUER/me"
  echo "$output" | jq -e '.sub == "alice"'
  # the refresh token stored now works for the next refresh too
  run nexus-vault -k "$T/k1" refresh --before 5m
  assert_success
  assert_output 'nexus-vault: files: refreshed'
  [ "$(field files access_token)" != "$at2" ]
}

@test "a confidential client: connect and refresh authenticate with the client secret" {
  OIDC_ACCESS_TTL=120 start_oidc
  echo vault-client-secret > "$T/cs"
  connect_bg files --client-id nexus-vault-secret --client-secret-file "$T/cs"
  finish_browser
  wait "$CONNECT_PID"
  at1=$(field files access_token)
  run nexus-vault -k "$T/k1" refresh files --before 5m
  assert_success
  assert_output 'nexus-vault: files: refreshed'
  [ "$(field files access_token)" != "$at1" ]
  run cat "$T/c.err"
  refute_output --partial vault-client-secret
}

@test "the provider is down during refresh: a clear failure, the stored record intact" {
  OIDC_ACCESS_TTL=120 start_oidc
  connect_bg files --client-id nexus-vault
  finish_browser
  wait "$CONNECT_PID"
  before=$(nexus-vault -k "$T/k1" get files --json)
  kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
  run nexus-vault -k "$T/k1" refresh files --before 5m
  assert_failure 1
  assert_output --partial 'nexus-vault: files: not refreshed, the stored credential is unchanged:'
  [ "$(nexus-vault -k "$T/k1" get files --json)" = "$before" ]
}

@test "connect refused by the user or the provider stores nothing; usage errors say what is missing" {
  start_oidc
  connect_bg files --client-id nexus-vault
  url=$(wait_line "$T/c.err" "^$ISSUER/auth\\?")
  cb=$(browse "$url")
  curl -sS --max-time 30 "$(echo "$cb" | sed 's/state=[^&]*/state=forged/')" >/dev/null || true
  rc=0; wait "$CONNECT_PID" || rc=$?
  [ "$rc" = 1 ]
  run cat "$T/c.err"
  assert_output --partial 'nexus-vault: connect files: redirect with a wrong state'
  run nexus-vault -k "$T/k1" get files
  assert_failure 1
  run nexus-vault -k "$T/k1" connect files --client-id nexus-vault
  assert_failure 2
  assert_output --partial 'connect needs --issuer URL and --client-id ID'
  run nexus-vault -k "$T/k1" get files --scope x
  assert_failure 2
  assert_output --partial 'go with connect'
  run nexus-vault -k "$T/k1" connect files --issuer "http://127.0.0.1:1" --client-id x
  assert_failure 1
  assert_output --partial 'nexus-vault: connect files:'
}

@test "connect --device-flow: the user code on the terminal, the tokens in the vault" {
  start_oidc
  connect_bg dev --client-id nexus-vault --device-flow
  line=$(wait_line "$T/c.err" 'or open ')
  complete=${line##*or open }
  approve_device "$complete"
  wait "$CONNECT_PID"
  run cat "$T/c.err"
  assert_output --partial 'nexus-vault: to connect dev, open '
  assert_output --partial 'and enter the code '
  nexus-vault -k "$T/k1" get dev --json | jq -e '(.access_token | length) > 20 and (.refresh_token | length) > 20'
}
