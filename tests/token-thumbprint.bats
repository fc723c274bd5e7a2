#!/usr/bin/env bats
# nexus-token thumbprint prints a key's RFC 7638 thumbprint, the kid a backend key is known by
# in nexus-hub's --backends file; keygen --backends-line prints the line to add there. The
# expected kids come from jose(1) over JWKs built by openssl (tests/lib/jwk.bash).
load lib/common
load lib/jwk

@test "thumbprint of EC and RSA keys, private and public, agrees with jose" {
  nexus-token keygen -t es256 -o "$T/ec.key"
  openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
  openssl rsa -in "$T/rsa.key" -pubout -out "$T/rsa.pub" 2>/dev/null
  want=$(ec_jwk "$T/ec.key.pub" pub | jose jwk thp -i- -a S256)
  run nexus-token thumbprint "$T/ec.key"
  assert_success
  assert_output "$want"
  run nexus-token thumbprint "$T/ec.key.pub"
  assert_output "$want"
  want=$(rsa_jwk "$T/rsa.pub" pub | jose jwk thp -i- -a S256)
  run nexus-token thumbprint "$T/rsa.key"
  assert_success
  assert_output "$want"
}

@test "thumbprint refuses an HMAC secret and takes exactly one key" {
  nexus-token keygen -t hs256 -o "$T/hub.secret"
  run nexus-token thumbprint "$T/hub.secret"
  assert_failure 1
  assert_output --partial 'no thumbprint'
  refute_output --partial "$(cat "$T/hub.secret")"
  run nexus-token thumbprint
  assert_failure 2
  run nexus-token thumbprint "$T/missing.key"
  assert_failure 1
}

@test "keygen --backends-line prints NAME, the public key inline and the granted names" {
  run nexus-token keygen -t es256 -o "$T/id.key" --backends-line edge-1 app.test '*.dev.test'
  assert_success
  read -r name key grant <<<"$output"
  assert_equal "$name" edge-1
  assert_equal "$grant" 'host=app.test,*.dev.test'
  # the inline key is the SubjectPublicKeyInfo of id.key.pub
  assert_equal "$key" "$(grep -v -- ----- "$T/id.key.pub" | tr -d '\n')"
  run nexus-token keygen -t hs256 -o "$T/s" --backends-line edge-1 app.test
  assert_failure 2
  run nexus-token keygen -t es256 -o "$T/k2" --backends-line edge-2
  assert_failure 2
  run nexus-token keygen -t es256 -o "$T/k3" --backends-line edge-3 '*.com'
  assert_failure 2
}
