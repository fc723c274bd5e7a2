#!/usr/bin/env bats
# put / get / ls / rm / header / exec round trips, and nothing secret in the files.
load lib/vault
bats_require_minimum_version 1.5.0

@test "bearer: get prints the token, --json the credential, header the Authorization line" {
  vput gh '{"type":"bearer","token":"tok-PLAIN-1","expires_at":1900000000}'
  run nexus-vault -k "$T/k1" get gh
  assert_success; assert_output tok-PLAIN-1
  run nexus-vault -k "$T/k1" get gh --json
  assert_success; assert_output '{"expires_at":1900000000,"token":"tok-PLAIN-1","type":"bearer"}'
  run nexus-vault -k "$T/k1" header gh
  assert_success; assert_output 'Authorization: Bearer tok-PLAIN-1'
}

@test "basic and api_key headers; curl -H @- sends them" {
  vput b '{"type":"basic","username":"alice","password":"pw-PLAIN:2"}'
  vput a '{"type":"api_key","header":"X-Api-Key","key":"ak-PLAIN-3"}'
  run nexus-vault -k "$T/k1" header b
  assert_output "Authorization: Basic $(printf 'alice:pw-PLAIN:2' | base64)"
  run nexus-vault -k "$T/k1" get b
  assert_output 'alice:pw-PLAIN:2'
  run nexus-vault -k "$T/k1" header a
  assert_output 'X-Api-Key: ak-PLAIN-3'
  port=$(free_port)
  python3 -c 'import http.server,sys
class H(http.server.BaseHTTPRequestHandler):
  def do_GET(s):
    b=(s.headers.get("X-Api-Key") or "none").encode(); s.send_response(200); s.end_headers(); s.wfile.write(b)
  def log_message(s,*a): pass
http.server.HTTPServer(("127.0.0.1",int(sys.argv[1])),H).serve_forever()' "$port" &
  NX_PIDS+=($!)
  wait_port "$port"
  run sh -c "nexus-vault -k '$T/k1' header a | curl -s -H @- http://127.0.0.1:$port/"
  assert_output 'ak-PLAIN-3'
}

@test "oauth: the access token is the bearer; ls shows names, types and expiry, never secrets" {
  vput svc '{"type":"oauth","access_token":"at-PLAIN-4","refresh_token":"rt-PLAIN-5","expires_at":1900000000,"scopes":["read","write"],"token_endpoint":"https://idp.example/token","client_id":"c1"}'
  vput k '{"type":"api_key","header":"X-Key","key":"ak-PLAIN-6"}'
  run nexus-vault -k "$T/k1" header svc
  assert_output 'Authorization: Bearer at-PLAIN-4'
  run nexus-vault -k "$T/k1" ls
  assert_success
  assert_line -n 0 "$(printf 'k\tapi_key\t-')"
  assert_line -n 1 "$(printf 'svc\toauth\t2030-03-17T17:46:40Z')"
  refute_output --partial PLAIN
  run nexus-vault -k "$T/k1" ls --json
  assert_output '[{"expires_at":null,"name":"k","type":"api_key"},{"expires_at":1900000000,"name":"svc","type":"oauth"}]'
}

@test "exec: the credential in the child's environment, not on its argv; the master key not at all" {
  vput b '{"type":"basic","username":"alice","password":"pw-PLAIN-7"}'
  vput t '{"type":"bearer","token":"tok-PLAIN-8"}'
  run nexus-vault -k "$T/k1" exec b -- sh -c 'echo "$NEXUS_VAULT_USERNAME/$NEXUS_VAULT_PASSWORD/$NEXUS_VAULT_TYPE"; echo "$NEXUS_VAULT_HEADER"; cat /proc/$$/cmdline | tr "\0" " "'
  assert_success
  assert_line -n 0 'alice/pw-PLAIN-7/basic'
  assert_line -n 1 "Authorization: Basic $(printf 'alice:pw-PLAIN-7' | base64)"
  refute_line -n 2 --partial PLAIN
  key=$(cat "$T/k1")
  NEXUS_VAULT_KEY=$key run nexus-vault exec t -- sh -c 'echo "$NEXUS_VAULT_TOKEN"; env | grep -c "^NEXUS_VAULT_KEY=" || true'
  assert_success
  assert_output $'tok-PLAIN-8\n0'
  run nexus-vault -k "$T/k1" exec t -- sh -c 'exit 7'
  assert_failure 7
  run -127 nexus-vault -k "$T/k1" exec t -- /no/such/cmd
  assert_failure 127
  assert_output --partial 'cannot run /no/such/cmd'
}

@test "the master key from \$NEXUS_VAULT_KEY, raw or base64url; rm removes; put replaces" {
  export NEXUS_VAULT_KEY=$(cat "$T/k1")
  printf '%s' '{"type":"bearer","token":"one"}' | nexus-vault put x
  printf '%s' '{"type":"bearer","token":"two"}' | nexus-vault put x
  run nexus-vault get x
  assert_output two
  run nexus-vault rm x
  assert_success
  run nexus-vault get x
  assert_failure 1
  assert_output "nexus-vault: no credential named 'x'"
  run nexus-vault rm x
  assert_failure 1
}

@test "the database file and its WAL never hold a secret in plaintext, and are mode 0600" {
  for i in $(seq 20); do
    vput "n$i" "{\"type\":\"oauth\",\"access_token\":\"at-PLAIN-$i\",\"refresh_token\":\"rt-PLAIN-$i\"}"
  done
  # a reader holding a snapshot keeps the later writes in the WAL while we look
  python3 -c 'import sqlite3,sys,time
c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute("BEGIN")
c.execute("SELECT count(*) FROM secrets").fetchall(); open(sys.argv[2],"w").close(); time.sleep(60)' \
    "$NEXUS_VAULT_DB" "$T/reading" &
  NX_PIDS+=($!)
  wait_file "$T/reading"
  for i in $(seq 5); do vput "late$i" "{\"type\":\"bearer\",\"token\":\"tok-PLAIN-late$i\"}"; done
  [ -s "$T/vault.db-wal" ]
  run grep -a -l -e PLAIN -e "$(cat "$T/k1")" "$T"/vault.db*
  assert_failure 1   # no file matches
  assert_output ''
  [ "$(stat -c %a "$NEXUS_VAULT_DB")" = 600 ]
  run strings -a "$T"/vault.db*
  refute_output --partial PLAIN
}

@test "bad input: not JSON, unknown type or member, a newline in a token, a bad name, no key" {
  run sh -c "echo 'nope' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial 'not JSON'
  run sh -c "echo '{\"type\":\"magic\"}' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial '"type" must be'
  run sh -c "echo '{\"type\":\"bearer\",\"token\":\"t\",\"tokne\":1}' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial 'no member "tokne"'
  run sh -c "printf '%s' '{\"type\":\"bearer\",\"token\":\"a\\r\\nX-Evil: 1\"}' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial 'control characters'
  run sh -c "echo '{\"type\":\"api_key\",\"header\":\"X Bad\",\"key\":\"k\"}' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial 'header name'
  run sh -c "echo '{\"type\":\"basic\",\"username\":\"u\"}' | nexus-vault -k '$T/k1' put a"
  assert_failure 1; assert_output --partial 'needs "password"'
  run nexus-vault -k "$T/k1" get '../x'
  assert_failure 2
  run nexus-vault get x
  assert_failure 2; assert_line -n 0 --partial 'a master key is needed'
  printf 'short' > "$T/bad.key"
  run nexus-vault -k "$T/bad.key" ls
  assert_failure 1; assert_output --partial 'not a master key'
  run nexus-vault -k "$T/k1" exec x
  assert_failure 2; assert_line -n 0 --partial 'exec needs a command'
  run nexus-vault -k "$T/k1" rotate-key
  assert_failure 2; assert_line -n 0 --partial 'needs --new-key-file'
}
