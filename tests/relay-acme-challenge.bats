#!/usr/bin/env bats
# nexus-relay --acme-challenge-dir/--acme-host: the relay's plain-HTTP port answers ACME
# HTTP-01 validations for the hub's own names from the files the hub's ACME client writes;
# every other name, and every other path, is routed as before (a backend can run its own ACME).
load lib/common
load lib/tunnel

TOK=LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0

suite_setup() {
  mkdir -p "$T/chal" "$T/www"
  printf '%s.thumb' "$TOK" > "$T/chal/$TOK"
  printf 'the backend answers its own\n' > "$T/www/$TOK"
  start_web be --root "$T/www"
  RELAY_PORT=$(free_port)
  start_relay --acme-challenge-dir "$T/chal" --acme-host Hub.Test --acme-host hub2.test \
    --route "hub.test=127.0.0.1:$WEB_PORT" --route "other.test=127.0.0.1:$WEB_PORT"
}

get() { # get HOST PATH [curl args]
  local h=$1 p=$2; shift 2
  curl -sS --max-time 20 --resolve "$h:$RELAY_PORT:127.0.0.1" "$@" "http://$h:$RELAY_PORT$p"
}

@test "a challenge for a hub name is answered from the directory, exactly the file" {
  run get hub.test "/.well-known/acme-challenge/$TOK" -D "$T/h"
  assert_success
  assert_output "$TOK.thumb"
  run grep -i '^content-length: ' "$T/h"
  assert_output --partial "$(( ${#TOK} + 6 ))"
  run get hub2.test "/.well-known/acme-challenge/$TOK"
  assert_output "$TOK.thumb"
  wait_log "$T/relay.log" 'key=hub.test route=acme-challenge outcome=acme '
}

@test "a token with no file, a symlink, a directory or a bad name is 404 from the relay" {
  ln -s "$T/chal/$TOK" "$T/chal/symlinkToken"
  ln -s /etc/passwd "$T/chal/passwdLink"
  mkdir "$T/chal/aDirectory"
  for p in missingToken symlinkToken passwdLink aDirectory '..%2f..%2fetc%2fpasswd' 'a.b' \
           "$TOK?x=1"; do
    run get hub.test "/.well-known/acme-challenge/$p" -o "$T/body" -w '%{http_code}'
    assert_output 404
    run cat "$T/body"
    assert_output 'no such challenge'
  done
  run get hub.test "/.well-known/acme-challenge/../../etc/passwd" --path-as-is -w '%{http_code}'
  refute_output --partial 'root:'
}

@test "other names go to their backends, challenge path or not; other paths of hub names too" {
  run get other.test "/.well-known/acme-challenge/$TOK"
  assert_success
  assert_output 'the backend answers its own'
  run get hub.test /who
  assert_output be
  # POST is not a validation request: routed as usual (the web service hashes the body)
  run get hub.test "/.well-known/acme-challenge/$TOK" -X POST -d x
  assert_output "$(printf x | sha256sum | cut -d' ' -f1) 1"
  wait_log "$T/relay.log" "key=other.test route=127.0.0.1:$WEB_PORT"
}

@test "HEAD gets the headers without the body" {
  run get hub.test "/.well-known/acme-challenge/$TOK" -I
  assert_success
  assert_output --partial '200 OK'
  refute_output --partial "$TOK.thumb"
}

@test "bad options: --acme-host without a directory, a directory without names, a bad name" {
  run nexus-relay --listen 127.0.0.1:1 --hub "$T/x" --acme-host hub.test
  assert_failure 2
  assert_line --index 0 "nexus-relay: --acme-host needs --acme-challenge-dir DIR"
  run nexus-relay --listen 127.0.0.1:1 --hub "$T/x" --acme-challenge-dir "$T/chal"
  assert_failure 2
  assert_line --index 0 --partial "--acme-challenge-dir needs the names"
  # a directory the hub has not made yet: a warning, the relay runs (answers 404 until then)
  run nexus-relay -n --listen 127.0.0.1:1 --hub "$T/x" --acme-challenge-dir "$T/nope" --acme-host h.test
  assert_success
  assert_line --index 0 --partial "is not a directory (yet)"
  run nexus-relay --listen 127.0.0.1:1 --hub "$T/x" --acme-challenge-dir "$T/chal" --acme-host 'bad name'
  assert_failure 2
  assert_line --index 0 --partial "--acme-host:"
}
