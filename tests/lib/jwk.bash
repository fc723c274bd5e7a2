# PEM keys (ours or openssl's) as JWKs for the jose(1) interop tests. Only openssl, xxd and
# jose are used, so the conversion itself is independent of the code under test.

# b64h: colon-hex on stdin (openssl -text) to base64url of the minimal big-endian bytes
b64h() { tr -d ' :\n' | sed 's/^\(00\)*//' | xxd -r -p | jose b64 enc -I-; }
# hex32: colon-hex on stdin to exactly 32 bytes of hex (EC coordinates and scalars)
hex32() { local h; h=$(tr -d ' :\n'); h=$(printf '%064s' "${h: -64}" | tr ' ' 0); printf '%s' "$h"; }
# field FILE NAME: the hex block after "NAME:" in openssl -text output
field() {
  awk -v n="$2:" '$0 ~ "^"n {f=1; sub("^"n,""); if ($0 ~ /[0-9a-f]/) print; next}
                  f && /^    / {print; next} f {exit}' "$1"
}
hex_b64() { xxd -r -p | jose b64 enc -I-; }

# rsa_jwk FILE [pub]
rsa_jwk() {
  local t; t=$(mktemp)
  if [ "${2:-}" = pub ]; then
    openssl rsa -pubin -in "$1" -text -noout > "$t" 2>/dev/null
    printf '{"kty":"RSA","alg":"RS256","n":"%s","e":"AQAB"}\n' "$(field "$t" Modulus | b64h)"
  else
    openssl rsa -in "$1" -text -noout > "$t" 2>/dev/null
    printf '{"kty":"RSA","alg":"RS256","n":"%s","e":"AQAB","d":"%s","p":"%s","q":"%s","dp":"%s","dq":"%s","qi":"%s"}\n' \
      "$(field "$t" modulus | b64h)" "$(field "$t" privateExponent | b64h)" \
      "$(field "$t" prime1 | b64h)" "$(field "$t" prime2 | b64h)" "$(field "$t" exponent1 | b64h)" \
      "$(field "$t" exponent2 | b64h)" "$(field "$t" coefficient | b64h)"
  fi
  rm -f "$t"
}

# ec_jwk FILE [pub]
ec_jwk() {
  local t pub d=""; t=$(mktemp)
  if [ "${2:-}" = pub ]; then
    openssl ec -pubin -in "$1" -text -noout > "$t" 2>/dev/null
  else
    openssl ec -in "$1" -text -noout > "$t" 2>/dev/null
    d=$(field "$t" priv | hex32 | hex_b64)
  fi
  pub=$(field "$t" pub | tr -d ' :\n')
  printf '{"kty":"EC","alg":"ES256","crv":"P-256","x":"%s","y":"%s"%s}\n' \
    "$(printf %s "${pub:2:64}" | hex_b64)" "$(printf %s "${pub:66:64}" | hex_b64)" \
    "${d:+,\"d\":\"$d\"}"
  rm -f "$t"
}

# oct_jwk SECRETFILE [ALG]: the trimmed file content is the key (protocol.md §2)
oct_jwk() {
  printf '{"kty":"oct","alg":"%s","k":"%s"}\n' "${2:-HS256}" \
    "$(tr -d ' \n\t\r' < "$1" | jose b64 enc -I-)"
}
