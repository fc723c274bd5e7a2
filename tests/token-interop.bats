#!/usr/bin/env bats
# Interoperability: tokens both ways with jose(1) (latchset jose, a separate JOSE
# implementation on OpenSSL), keys made by openssl load, keys we write load in openssl.
load lib/common
load lib/jwk

payload() { printf '{"sub":"from-jose","exp":%d}' $(($(date +%s) + 300)) > "$T/pay.json"; }

# both_ways PRIVKEY PUBKEY PRIVJWK PUBJWK ALG
both_ways() {
  local tok jt
  tok=$(nexus-token issue -k "$1" -a "$5" --sub from-nexus)
  run jose jws ver -i "$tok" -k "$4" -O-
  assert_success
  assert_output --partial '"sub":"from-nexus"'
  payload
  jt=$(jose jws sig -I "$T/pay.json" -k "$3" -s "{\"protected\":{\"alg\":\"$5\"}}" -c -o-)
  run nexus-token verify -k "$2" "$jt"
  assert_success
  assert_output --partial '"sub":"from-jose"'
  # and jose's token, tampered, is refused by us
  run nexus-token verify -k "$2" "${jt%.*}.${jt:0:10}"
  assert_failure 1
}

@test "HS256, HS384 and HS512 both ways with jose (the secret file's text is the key)" {
  for alg in HS256 HS384 HS512; do
    nexus-token keygen -t "$alg" -o "$T/hs" --force
    oct_jwk "$T/hs" "$alg" > "$T/hs.jwk"
    both_ways "$T/hs" "$T/hs" "$T/hs.jwk" "$T/hs.jwk" "$alg"
  done
}

@test "ES256 both ways with jose" {
  nexus-token keygen -t es256 -o "$T/ec"
  ec_jwk "$T/ec" > "$T/ec.jwk"
  ec_jwk "$T/ec.pub" pub > "$T/ec.pub.jwk"
  both_ways "$T/ec" "$T/ec.pub" "$T/ec.jwk" "$T/ec.pub.jwk" ES256
}

@test "RS256 both ways with jose" {
  nexus-token keygen -t rs256 -o "$T/rsa"
  rsa_jwk "$T/rsa" > "$T/rsa.jwk"
  rsa_jwk "$T/rsa.pub" pub > "$T/rsa.pub.jwk"
  both_ways "$T/rsa" "$T/rsa.pub" "$T/rsa.jwk" "$T/rsa.pub.jwk" RS256
}

@test "keys we write load in openssl" {
  nexus-token keygen -t es256 -o "$T/ec"
  nexus-token keygen -t rs256 -o "$T/rsa" --bits 3072
  run openssl ec -in "$T/ec" -check -noout
  assert_success
  run openssl pkey -pubin -in "$T/ec.pub" -noout -text
  assert_success
  assert_output --partial "prime256v1"
  run openssl rsa -in "$T/rsa" -check -noout
  assert_success
  assert_output --partial "RSA key ok"
  run openssl pkey -pubin -in "$T/rsa.pub" -noout -text
  assert_output --partial "3072 bit"
  # our public file is what openssl derives from our private file
  diff <(openssl pkey -in "$T/ec" -pubout) "$T/ec.pub"
  diff <(openssl pkey -in "$T/rsa" -pubout) "$T/rsa.pub"
  # openssl verifies our RS256 signature over the JWS signing input
  tok=$(nexus-token issue -k "$T/rsa" --sub x)
  printf %s "${tok%.*}" > "$T/input"
  printf %s "${tok##*.}" | jose b64 dec -i- -O "$T/sig"
  run openssl dgst -sha256 -verify "$T/rsa.pub" -signature "$T/sig" "$T/input"
  assert_success
  assert_output "Verified OK"
}

@test "keys made by openssl load: PKCS#1, PKCS#8, SEC1, SPKI, RSA PUBLIC KEY, certificates" {
  cd "$T"
  openssl genrsa -traditional -out rsa1.pem 2048 2>/dev/null       # PKCS#1
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa8.pem 2>/dev/null  # PKCS#8
  openssl ecparam -name prime256v1 -genkey -out ec1.pem             # EC PARAMETERS + SEC1
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec8.pem  # PKCS#8
  for k in rsa1 rsa8 ec1 ec8; do
    openssl pkey -in $k.pem -pubout -out $k.pub
    openssl req -x509 -new -key $k.pem -subj /CN=test -days 1 -out $k.crt 2>/dev/null
    chmod 600 $k.pem
    tok=$(nexus-token issue -k $k.pem --sub "$k")
    for pub in $k.pem $k.pub $k.crt; do
      run nexus-token verify -k "$pub" "$tok"
      assert_success
      assert_output --partial "\"sub\":\"$k\""
    done
  done
  openssl rsa -in rsa1.pem -RSAPublicKey_out -out rsa1.rsapub 2>/dev/null
  grep -q 'BEGIN RSA PUBLIC KEY' rsa1.rsapub
  run nexus-token verify -k rsa1.rsapub "$(nexus-token issue -k rsa1.pem)"
  assert_success
}

@test "keys we cannot use are refused with a reason" {
  cd "$T"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem
  run nexus-token issue -k p384.pem
  assert_failure 1
  assert_output --partial "P-256"
  openssl genpkey -algorithm ED25519 -out ed.pem
  run nexus-token issue -k ed.pem
  assert_failure 1
  assert_output --partial "not supported"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:pw -out enc.pem 2>/dev/null
  run nexus-token issue -k enc.pem
  assert_failure 1
  assert_output --partial "encrypted private keys are not supported"
}
