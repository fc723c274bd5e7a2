#!/usr/bin/env bats
# ES256 signatures are malleable: for a valid (r, s), (r, n - s) is valid too. We accept
# both forms, as RFC 7518 §3.4, FIPS 186, Go's crypto/ecdsa and jose (OpenSSL) do, because
# signers do not normalise s (about half of their tokens have a high s) and nothing here
# identifies a token by its signature bytes: revocation goes by jti, which malleating the
# signature cannot change.
load lib/common
load lib/jwk
bats_require_minimum_version 1.5.0

# flip TOKEN: the same token with s replaced by n - s (the other valid signature)
flip() {
  python3 - "$1" <<'PY'
import base64, sys
n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
h, p, s = sys.argv[1].split(".")
raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
r, sv = raw[:32], int.from_bytes(raw[32:], "big")
out = r + (n - sv).to_bytes(32, "big")
print(h + "." + p + "." + base64.urlsafe_b64encode(out).decode().rstrip("="))
PY
}
# high TOKEN: 1 when its s is above n/2
high() {
  python3 - "$1" <<'PY'
import base64, sys
n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
s = sys.argv[1].split(".")[2]
raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
print(1 if int.from_bytes(raw[32:], "big") > n // 2 else 0)
PY
}

suite_setup() {
  nexus-token keygen -t es256 -o "$T/es.key" 2>/dev/null
  ec_jwk "$T/es.key.pub" pub > "$T/es.jwk"
}

@test "both the low-S and the high-S form of an ES256 signature verify, with us and with jose" {
  tok=$(nexus-token issue -k "$T/es.key" --sub malleable --ttl 5m)
  twin=$(flip "$tok")
  [ "$twin" != "$tok" ]
  [ "$(high "$tok")" != "$(high "$twin")" ]   # exactly one of the two is high-S
  for t in "$tok" "$twin"; do
    run --separate-stderr nexus-token verify -k "$T/es.key.pub" "$t"
    assert_success
    assert_output --partial '"sub":"malleable"'
    run jose jws ver -i "$t" -k "$T/es.jwk"
    assert_success
  done
}

@test "our own signer emits high-S signatures too (so refusing them would refuse our tokens)" {
  n=0
  for i in $(seq 16); do
    tok=$(nexus-token issue -k "$T/es.key" --sub "s$i" --ttl 5m)
    n=$((n + $(high "$tok")))
    nexus-token verify -k "$T/es.key.pub" "$tok" >/dev/null
  done
  echo "# $n of 16 ES256 tokens from nexus-token have a high s" >&3
}

@test "revoking a token revokes its malleated twin (revocation is by jti)" {
  tok=$(nexus-token issue -k "$T/es.key" --sub twin --ttl 5m)
  nexus-token revoke --deny-list "$T/deny" "$tok"
  run --separate-stderr nexus-token verify -k "$T/es.key.pub" --deny-list "$T/deny" "$(flip "$tok")"
  assert_failure 1
  [[ "$stderr" == *"token revoked"* ]]
}
