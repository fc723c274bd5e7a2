#!/usr/bin/env bats
# Algorithm confusion: whoever has a verifier's public key forges an HS256 token with the
# key file's bytes as the HMAC secret. Every public-key format (PEM, DER, JWK, JWKS, OpenSSH
# .pub, base64 without PEM lines) must be loaded as a public key or refused, never used as
# an HMAC secret; and real ES256/RS256 tokens verify with the DER and JWK forms.
load lib/common
load lib/jwk
load lib/tunnel
bats_require_minimum_version 1.5.0

b64() { jose b64 enc -I-; }
# forge FILE: an HS256 token whose secret is FILE's content, trimmed as a secret file is
forge() {
  local hex h p s
  hex=$(python3 -c 'import sys;print(open(sys.argv[1],"rb").read().strip().hex())' "$1")
  h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64)
  p=$(printf '{"sub":"forged","exp":%d}' $(($(date +%s) + 300)) | b64)
  s=$(printf %s "$h.$p" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | b64)
  printf %s "$h.$p.$s"
}

# refused FILE REASON: the forged token does not verify with -k FILE, one line naming REASON
refused() {
  run --separate-stderr nexus-token verify -k "$1" "$(forge "$1")"
  [ "$status" -eq 1 ] || { echo "exit $status for $1: $output / $stderr"; return 1; }
  [ -z "$output" ] || { echo "stdout not empty: $output"; return 1; }
  [[ "$stderr" == *"$2"* ]] || { echo "stderr '$stderr' does not say '$2'"; return 1; }
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "more than one line: $stderr"; return 1; }
}

suite_setup() {
  nexus-token keygen -t es256 -o "$T/es.key" 2>/dev/null
  nexus-token keygen -t rs256 -o "$T/rs.key" 2>/dev/null
  for k in es rs; do
    openssl pkey -pubin -in "$T/$k.key.pub" -outform DER -out "$T/$k.der"
    grep -v -- ----- "$T/$k.key.pub" > "$T/$k.b64"
  done
  ec_jwk "$T/es.key.pub" pub > "$T/es.jwk"
  rsa_jwk "$T/rs.key.pub" pub > "$T/rs.jwk"
  printf '{"keys":[%s]}\n' "$(cat "$T/es.jwk")" > "$T/es.jwks"
  printf '{"keys":[%s,%s]}\n' "$(cat "$T/es.jwk")" "$(cat "$T/rs.jwk")" > "$T/two.jwks"
  ssh-keygen -q -i -m PKCS8 -f "$T/es.key.pub" > "$T/es-ssh.pub"
  ssh-keygen -q -t ed25519 -N '' -C test -f "$T/ed" >/dev/null
  ssh-keygen -q -e -m RFC4716 -f "$T/ed.pub" > "$T/ed-rfc4716.pub"
}

@test "the forgery works against a real HMAC secret file (the control)" {
  printf 'a-plain-text-secret-of-thirty-two-bytes\n' > "$T/plain.secret"
  chmod 600 "$T/plain.secret"
  run --separate-stderr nexus-token verify -k "$T/plain.secret" "$(forge "$T/plain.secret")"
  assert_success
  assert_output --partial '"sub":"forged"'
}

@test "PEM public keys: loaded as public keys, HS256 refused" {
  refused "$T/es.key.pub" "HS256"
  refused "$T/rs.key.pub" "HS256"
}

@test "DER SubjectPublicKeyInfo: loaded as a public key, HS256 refused" {
  refused "$T/es.der" "HS256"
  refused "$T/rs.der" "HS256"
}

@test "JWK and JWKS public keys: loaded as public keys, HS256 refused" {
  refused "$T/es.jwk" "HS256"
  refused "$T/rs.jwk" "HS256"
  refused "$T/es.jwks" "HS256"
  refused "$T/two.jwks" "no key for algorithm HS256 in the key set"
}

@test "a JWKS of several keys: the token's kid picks the key" {
  nexus-token keygen -t es256 -o "$T/es2.key" 2>/dev/null
  sed 's/^{/{"kid":"one",/' "$T/es.jwk" > "$T/one.jwk"
  ec_jwk "$T/es2.key.pub" pub | sed 's/^{/{"kid":"two",/' > "$T/two.jwk"
  printf '{"keys":[%s,%s,%s]}\n' "$(cat "$T/one.jwk")" "$(cat "$T/two.jwk")" \
    "$(cat "$T/rs.jwk")" > "$T/set.jwks"
  for k in one two; do
    f=$T/es.key; [ $k = two ] && f=$T/es2.key
    tok=$(nexus-token issue -k "$f" --kid $k --sub "by-$k" --ttl 5m)
    run --separate-stderr nexus-token verify -k "$T/set.jwks" "$tok"
    assert_success
    assert_output --partial "\"sub\":\"by-$k\""
  done
  # the wrong kid: the other key's signature does not verify
  tok=$(nexus-token issue -k "$T/es2.key" --kid one --sub liar --ttl 5m)
  run --separate-stderr nexus-token verify -k "$T/set.jwks" "$tok"
  assert_failure 1
  [[ "$stderr" == *"signature mismatch"* ]]
  tok=$(nexus-token issue -k "$T/es.key" --kid three --ttl 5m)
  run --separate-stderr nexus-token verify -k "$T/set.jwks" "$tok"
  assert_failure 1
  [[ "$stderr" == *"no key with kid 'three' in the key set"* ]]
  # no kid: fine when one key fits the algorithm, refused when two do
  tok=$(nexus-token issue -k "$T/rs.key" --sub rs-no-kid --ttl 5m)
  run --separate-stderr nexus-token verify -k "$T/set.jwks" "$tok"
  assert_success
  tok=$(nexus-token issue -k "$T/es.key" --ttl 5m)
  run --separate-stderr nexus-token verify -k "$T/set.jwks" "$tok"
  assert_failure 1
  [[ "$stderr" == *'token has no "kid" and the key set has 2 keys for ES256'* ]]
  # a secret among several keys would be picked by the token's writer: refused
  printf '{"keys":[%s,{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}' \
    "$(cat "$T/one.jwk")" > "$T/mixed.jwks"
  refused "$T/mixed.jwks" "a secret or private key in a key set"
  printf '{"keys":[%s,%s]}' "$(cat "$T/one.jwk")" "$(cat "$T/one.jwk")" > "$T/dup.jwks"
  refused "$T/dup.jwks" "two keys with kid 'one'"
}

@test "OpenSSH and RFC 4716 public keys are refused, naming the format" {
  refused "$T/es-ssh.pub" "OpenSSH public keys are not supported"
  refused "$T/ed.pub" "OpenSSH public keys are not supported"
  refused "$T/ed-rfc4716.pub" "OpenSSH public keys are not supported"
  # with authorized_keys options in front
  printf 'from="10.0.0.1" %s\n' "$(cat "$T/ed.pub")" > "$T/auth.pub"
  refused "$T/auth.pub" "OpenSSH public keys are not supported"
}

@test "a PEM body without its BEGIN/END lines is refused" {
  refused "$T/es.b64" "without PEM armour"
  refused "$T/rs.b64" "without PEM armour"
}

@test "JSON that is not a usable JWK is refused, never a secret" {
  printf '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}' > "$T/okp.jwk"
  refused "$T/okp.jwk" "JWK \"kty\" 'OKP' not supported"
  printf '{"kty":"EC","crv":"P-256","x":"AAAA"' > "$T/cut.jwk"
  refused "$T/cut.jwk" "JSON key file that does not parse"
  printf '{"hello":"world"}' > "$T/other.json"
  refused "$T/other.json" "not a JWK"
  printf '\x30\x03\x02\x01\x01' > "$T/junk.der"
  refused "$T/junk.der" "DER data that is not a key we load"
}

@test "other PEM (OpenSSH private key, unknown labels) is refused" {
  refused "$T/ed" "PEM"
}

@test "ES256 and RS256 tokens verify with the DER, JWK and JWKS forms" {
  for k in es rs; do
    tok=$(nexus-token issue -k "$T/$k.key" --sub "real-$k" --ttl 5m)
    for f in "$T/$k.der" "$T/$k.jwk" "$T/$k.key.pub"; do
      run --separate-stderr nexus-token verify -k "$f" "$tok"
      assert_success
      assert_output --partial "\"sub\":\"real-$k\""
    done
  done
  tok=$(nexus-token issue -k "$T/es.key" --sub real-es --ttl 5m)
  run --separate-stderr nexus-token verify -k "$T/es.jwks" "$tok"
  assert_success
  # a token signed by jose with the JWK verifies with the DER form
  printf '{"sub":"from-jose","exp":%d}' $(($(date +%s) + 300)) > "$T/pay.json"
  ec_jwk "$T/es.key" > "$T/es-priv.jwk"
  jt=$(jose jws sig -I "$T/pay.json" -k "$T/es-priv.jwk" -s '{"protected":{"alg":"ES256"}}' -c -o-)
  run --separate-stderr nexus-token verify -k "$T/es.der" "$jt"
  assert_success
  assert_output --partial '"sub":"from-jose"'
  # an EC private JWK signs, and its token verifies with the PEM public key
  tok=$(nexus-token issue -k "$T/es-priv.jwk" --sub jwk-signed --ttl 5m 2>/dev/null)
  run --separate-stderr nexus-token verify -k "$T/es.key.pub" "$tok"
  assert_success
}

@test "a JWK whose alg or use does not fit the key is refused" {
  sed 's/"ES256"/"RS256"/' "$T/es.jwk" > "$T/bad-alg.jwk"
  refused "$T/bad-alg.jwk" "JWK \"alg\" 'RS256' not supported"
  sed 's/^{/{"use":"enc",/' "$T/es.jwk" > "$T/enc.jwk"
  refused "$T/enc.jwk" "JWK \"use\" is not \"sig\""
}

@test "nexus-hub: a DER, JWK or OpenSSH public key is never a --secret-file" {
  tunnel_keys
  base=(--listen 127.0.0.1:0 --cert "$T/hub.crt" --key "$T/hub.key" --relay-socket "$T/s")
  for f in "$T/es.der" "$T/es.jwk"; do
    run timeout 20 nexus-hub "${base[@]}" --secret-file "$f"
    assert_failure 1
    assert_output --partial 'not an HMAC secret'
  done
  run timeout 20 nexus-hub "${base[@]}" --secret-file "$T/es-ssh.pub"
  assert_failure 1
  assert_output --partial 'OpenSSH public keys are not supported'
}
