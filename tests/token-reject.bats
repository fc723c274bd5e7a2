#!/usr/bin/env bats
# Every way a token can be wrong: exit 1, one clear line on stderr, never a crash.
load lib/common
bats_require_minimum_version 1.5.0

b64() { jose b64 enc -I-; }
# hs_sign KEYFILE HEADER PAYLOAD: a compact JWS made with openssl's HMAC, not ours
hs_sign() {
  local key h p s
  key=$(cat "$1")
  h=$(printf %s "$2" | b64)
  p=$(printf %s "$3" | b64)
  s=$(printf %s "$h.$p" | openssl dgst -sha256 -mac HMAC -macopt "key:$key" -binary | b64)
  printf %s "$h.$p.$s"
}
# hs_sign_input KEYFILE "HEADER.PAYLOAD": sign already-encoded segments as they are
hs_sign_input() {
  local key s
  key=$(cat "$1")
  s=$(printf %s "$2" | openssl dgst -sha256 -mac HMAC -macopt "key:$key" -binary | b64)
  printf %s "$2.$s"
}

suite_setup() {
  nexus-token keygen -t hs256 -o "$T/k" 2>/dev/null
}

# rejected TOKEN REASON [verify options...]: exit 1 and REASON on stderr, nothing on stdout
rejected() {
  local tok=$1 why=$2; shift 2
  run --separate-stderr nexus-token verify -k "$T/k" "$@" "$tok"
  [ "$status" -eq 1 ] || { echo "exit $status for: $why; stderr: $stderr"; return 1; }
  [ -z "$output" ] || { echo "stdout not empty: $output"; return 1; }
  [[ "$stderr" == *"$why"* ]] || { echo "stderr '$stderr' does not say '$why'"; return 1; }
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "more than one line: $stderr"; return 1; }
}

@test "a well-formed token signed by openssl's HMAC verifies (the baseline)" {
  tok=$(hs_sign "$T/k" '{"alg":"HS256"}' '{"sub":"ok"}')
  run nexus-token verify -k "$T/k" "$tok"
  assert_success
  assert_output '{"sub":"ok"}'
}

@test "wrong segment count" {
  rejected "abc" "wrong segment count: 1"
  rejected "a.b" "wrong segment count: 2"
  rejected "a.b.c.d" "wrong segment count: 4"
}

@test "bad base64" {
  tok=$(hs_sign "$T/k" '{"alg":"HS256"}' '{"sub":"ok"}')
  rejected "e+J.${tok#*.}" "header: bad base64url"
  rejected "$(hs_sign_input "$T/k" "${tok%%.*}.e30=")" "payload: bad base64url"
  rejected "$(hs_sign_input "$T/k" "${tok%%.*}.e3%x")" "payload: bad base64url"
  rejected "${tok%.*}.not/base64" "signature: bad base64url"
}

@test "bad JSON in header or payload" {
  rejected "$(hs_sign "$T/k" '{"alg":"HS256"' '{}')" "header: bad JSON"
  rejected "$(hs_sign "$T/k" '["HS256"]' '{}')" "header: not a JSON object"
  rejected "$(hs_sign "$T/k" '{"alg":"HS256"}' '{"sub":')" "payload: bad JSON"
  rejected "$(hs_sign "$T/k" '{"alg":"HS256"}' '"just a string"')" "payload: not a JSON object"
  rejected "$(hs_sign "$T/k" '{"alg":"HS256"}' '{"sub":"a","sub":"b"}')" "payload: bad JSON"
}

@test "alg none, unknown algorithms and crit headers" {
  none="$(printf %s '{"alg":"none"}' | b64).$(printf %s '{"sub":"x"}' | b64)."
  rejected "$none" "algorithm 'none' is not accepted"
  rejected "$(hs_sign "$T/k" '{"alg":"HS257"}' '{}')" "unsupported algorithm 'HS257'"
  rejected "$(hs_sign "$T/k" '{"typ":"JWT"}' '{}')" "no \"alg\""
  rejected "$(hs_sign "$T/k" '{"alg":"HS256","crit":["exp"],"exp":1}' '{}')" "\"crit\""
}

@test "an algorithm the key is not for: HS256 signed with the RSA public key as the secret" {
  nexus-token keygen -t rs256 -o "$T/rsa"
  key=$(cat "$T/rsa.pub")
  h=$(printf %s '{"alg":"HS256"}' | b64); p=$(printf %s '{"sub":"mallory"}' | b64)
  s=$(printf %s "$h.$p" | openssl dgst -sha256 -mac HMAC -macopt "key:$key" -binary | b64)
  run --separate-stderr nexus-token verify -k "$T/rsa.pub" "$h.$p.$s"
  assert_failure 1
  [[ "$stderr" == *"algorithm HS256 does not match the key (RSA-2048 public key)"* ]]
  # and an RS256 token against an HMAC secret
  rejected "$(nexus-token issue -k "$T/rsa")" "algorithm RS256 does not match the key (HMAC secret"
  # ES256 against RSA
  nexus-token keygen -t es256 -o "$T/ec"
  run --separate-stderr nexus-token verify -k "$T/rsa.pub" "$(nexus-token issue -k "$T/ec")"
  assert_failure 1
  [[ "$stderr" == *"algorithm ES256 does not match"* ]]
}

@test "tampered payload or signature, or the wrong key" {
  tok=$(nexus-token issue -k "$T/k" --sub alice)
  evil=$(printf %s '{"sub":"admin"}' | b64)
  rejected "${tok%%.*}.$evil.${tok##*.}" "signature mismatch"
  sig=${tok##*.}
  flipped=$( [ "${sig:5:1}" = A ] && echo B || echo A )
  rejected "${tok%.*}.${sig:0:5}$flipped${sig:6}" "signature mismatch"
  rejected "${tok%.*}." "signature mismatch"
  nexus-token keygen -t hs256 -o "$T/other"
  rejected "$(nexus-token issue -k "$T/other")" "signature mismatch"
  for t in es256 rs256; do
    nexus-token keygen -t $t -o "$T/$t"
    tok=$(nexus-token issue -k "$T/$t" --sub alice)
    run nexus-token verify -k "$T/$t.pub" "${tok%%.*}.$evil.${tok##*.}"
    assert_failure 1
    assert_output --partial "signature mismatch"
  done
}

@test "expired and not yet valid, with and without leeway" {
  now=$(date +%s)
  rejected "$(nexus-token issue -k "$T/k" --claim exp=1000)" "token expired"
  rejected "$(nexus-token issue -k "$T/k" --nbf 1h)" "token not yet valid"
  rejected "$(nexus-token issue -k "$T/k" --claim "iat=$((now + 3600))")" "issued in the future"
  rejected "$(nexus-token issue -k "$T/k" --claim 'exp="tomorrow"')" "claim 'exp' is not a number"
  tok=$(nexus-token issue -k "$T/k" --claim "exp=$((now - 5))")
  rejected "$tok" "token expired"
  run nexus-token verify -k "$T/k" --leeway 5m "$tok"
  assert_success
  tok=$(nexus-token issue -k "$T/k" --claim "iat=$((now - 600))")
  rejected "$tok" "token too old" --max-age 1m
}

@test "wrong or missing iss and aud, missing required claims" {
  tok=$(nexus-token issue -k "$T/k" --iss someone --aud web --sub s)
  rejected "$tok" "wrong issuer 'someone' (expected 'authorizer')" --iss authorizer
  rejected "$tok" "wrong audience (expected 'nexus')" --aud nexus
  rejected "$(nexus-token issue -k "$T/k")" "token has no issuer" --iss authorizer
  rejected "$(nexus-token issue -k "$T/k")" "token has no audience" --aud nexus
  rejected "$tok" "missing required claim 'hostnames'" --require sub --require hostnames
  run nexus-token verify -k "$T/k" --aud web "$(nexus-token issue -k "$T/k" --aud api --aud web)"
  assert_success
}

@test "revoked jti" {
  tok=$(nexus-token issue -k "$T/k" --jti gone)
  nexus-token revoke --deny-list "$T/deny" --jti gone
  rejected "$tok" "token revoked (jti 'gone')" --deny-list "$T/deny"
}

@test "input over 64 KiB, as an argument and on stdin" {
  big=$(head -c 22000 /dev/zero | tr '\0' A)
  rejected "$big.$big.$big" "token larger than 65536 bytes"
  printf '%s.%s.%s%s\n' "$big" "$big" "$big" "$big" > "$T/big"
  run --separate-stderr nexus-token verify -k "$T/k" < "$T/big"
  assert_failure 1
  [[ "$stderr" == *"larger than 65536"* ]]
  # in bulk, the long line is one invalid result and the next token still gets checked
  { cat "$T/big"; nexus-token issue -k "$T/k" --sub after; } > "$T/bulk"
  run nexus-token verify -k "$T/k" < "$T/bulk"
  assert_failure 1
  assert_line --index 0 "invalid: token larger than 65536 bytes"
  assert_line --index 1 "valid after"
  # a payload that would make a token over the limit is refused at issue time
  printf '{"pad":"%s"}' "$(head -c 60000 /dev/zero | tr '\0' x)" > "$T/pad.json"
  run nexus-token issue -k "$T/k" --claims "$T/pad.json"
  assert_failure 1
  assert_output --partial "larger than 65536"
}

@test "garbage never crashes verify, inspect or revoke" {
  head -c 4096 /dev/urandom > "$T/noise"
  for verb in "verify -k $T/k" "inspect" "revoke --deny-list $T/deny"; do
    run nexus-token $verb < "$T/noise"
    [ "$status" -eq 1 ] || { echo "$verb exited $status"; false; }
  done
  run nexus-token verify -k "$T/k" < /dev/null
  assert_failure 1
  assert_output --partial "no token"
  assert_file_not_exist "$T/deny"
}

@test "key files that are not keys" {
  printf '' > "$T/empty"
  run nexus-token verify -k "$T/empty" a.b.c
  assert_failure 1
  assert_output --partial "empty key"
  printf -- '-----BEGIN PUBLIC KEY-----\nbm9wZQ==\n-----END PUBLIC KEY-----\n' > "$T/bad.pem"
  run nexus-token verify -k "$T/bad.pem" a.b.c
  assert_failure 1
  assert_output --partial "malformed public key"
  run nexus-token verify -k "$T/missing" a.b.c
  assert_failure 1
  assert_output --partial "No such file"
  # the secret itself never appears in a message
  echo "hunter2-secret-value" > "$T/s"; chmod 600 "$T/s"
  run nexus-token verify -k "$T/s" "$(nexus-token issue -k "$T/k")"
  assert_failure 1
  refute_output --partial hunter2
}
