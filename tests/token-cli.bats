#!/usr/bin/env bats
# nexus-token as a user drives it: keygen, issue, verify (one and many), inspect, revoke.
load lib/common

claims_of() { # TOKEN: the payload as JSON, without trusting our own decoder
  local p; p=$(printf %s "$1" | cut -d. -f2)
  printf %s "$p" | jose b64 dec -i-
}

@test "--help, --version and usage errors" {
  run nexus-token --help
  assert_success
  assert_output --partial "usage: nexus-token keygen"
  run nexus-token --version
  assert_success
  assert_output --regexp '^nexus-token [0-9]'
  run nexus-token
  assert_failure 2
  run nexus-token frobnicate
  assert_failure 2
  assert_output --partial "unknown verb"
  run nexus-token verify --bogus
  assert_failure 2
  run nexus-token issue
  assert_failure 2
  assert_output --partial "issue needs -k KEY"
}

@test "keygen hs256 writes a 32-byte base64url secret, mode 0600" {
  run nexus-token keygen -t hs256 -o "$T/hs.key"
  assert_success
  [ "$(stat -c %a "$T/hs.key")" = 600 ]
  run cat "$T/hs.key"
  assert_output --regexp '^[A-Za-z0-9_-]{43}$'
  [ "$(printf %s "$output" | jose b64 dec -i- | wc -c)" -eq 32 ]
  assert_file_not_exist "$T/hs.key.pub"
}

@test "keygen es256 and rs256 write FILE (0600) and FILE.pub, refuse to overwrite" {
  for t in es256 rs256; do
    run nexus-token keygen -t "$t" -o "$T/$t.key"
    assert_success
    [ "$(stat -c %a "$T/$t.key")" = 600 ]
    assert_file_exist "$T/$t.key.pub"
    run nexus-token keygen -t "$t" -o "$T/$t.key"
    assert_failure 1
    assert_output --partial "not overwriting"
  done
  run nexus-token keygen -t es256 -o "$T/es256.key" --force
  assert_success
  run nexus-token keygen -t ed25519 -o "$T/x.key"
  assert_failure 2
  run nexus-token keygen -t hs256 -o -
  assert_failure 2
}

@test "issue and verify round trip for HS256, HS384, HS512, RS256, ES256" {
  nexus-token keygen -t hs256 -o "$T/hs.key"
  nexus-token keygen -t es256 -o "$T/ec.key"
  nexus-token keygen -t rs256 -o "$T/rsa.key"
  for spec in hs.key:hs.key:HS256 hs.key:hs.key:HS384 hs.key:hs.key:HS512 \
              ec.key:ec.key.pub:ES256 rsa.key:rsa.key.pub:RS256; do
    IFS=: read -r priv pub alg <<< "$spec"
    tok=$(nexus-token issue -k "$T/$priv" -a "$alg" --sub "user-$alg" --iss me --aud you)
    run nexus-token verify -k "$T/$pub" --iss me --aud you "$tok"
    assert_success
    assert_output --partial "\"sub\":\"user-$alg\""
    run nexus-token inspect --json "$tok"
    assert_output --partial "\"alg\":\"$alg\""
  done
}

@test "issue builds claims from flags, --claim and --claims" {
  nexus-token keygen -t hs256 -o "$T/k"
  echo '{"team":"ops","sub":"from-file"}' > "$T/c.json"
  tok=$(nexus-token issue -k "$T/k" --claims "$T/c.json" --sub flag-wins \
        --hostname 'App.Example.COM.' --hostname '*.dev.example.com' --tcp-port 2222 \
        --udp-route 5353:1m --udp-route 9999 --weight 5 --scope read --scope write \
        --claim 'role="admin"' --claim 'limits={"rps":10}' --aud a --aud b --jti my-id --ttl 10m)
  run claims_of "$tok"
  assert_output --partial '"team":"ops"'
  assert_output --partial '"sub":"flag-wins"'
  assert_output --partial '"hostnames":["app.example.com","*.dev.example.com"]'
  assert_output --partial '"tcp_ports":[2222]'
  assert_output --partial '"udp_routes":[{"port":5353,"flow_idle_timeout_seconds":60},{"port":9999}]'
  assert_output --partial '"weight":5'
  assert_output --partial '"scope":"read write"'
  assert_output --partial '"role":"admin"'
  assert_output --partial '"limits":{"rps":10}'
  assert_output --partial '"aud":["a","b"]'
  assert_output --partial '"jti":"my-id"'
  # claims from stdin
  tok=$(echo '{"x":1}' | nexus-token issue -k "$T/k" --claims - --jti none)
  run claims_of "$tok"
  assert_output --partial '"x":1'
  refute_output --partial '"jti"'
  # bad input to issue is a usage error, not a token
  run nexus-token issue -k "$T/k" --claim 'role=admin'
  assert_failure
  assert_output --partial "not JSON"
  run nexus-token issue -k "$T/k" --hostname '*.com'
  assert_failure 2
  run nexus-token issue -k "$T/k" --tcp-port 70000
  assert_failure 2
  run nexus-token issue -k "$T/k" --ttl soon
  assert_failure 2
  run nexus-token issue -k "$T/k" --sub $'\xff\xfe'
  assert_failure 1
  assert_output --partial "not valid UTF-8"
  run nexus-token issue -k "$T/k" --jti 'has space'
  assert_failure 1
  assert_output --partial "--jti"
}

@test "issue --backend fills a Nexus Proxy backend token from the tunnel's environment" {
  nexus-token keygen -t hs256 -o "$T/hub.secret"
  tok=$(NEXUS_ATTESTATION_STAGE=attest NEXUS_SESSION_NONCE=n0nce NEXUS_BACKEND_NAME=edge-1 \
        NEXUS_HOSTNAMES='a.example.com, B.example.com' NEXUS_WEIGHT=3 NEXUS_TCP_PORTS=22,2222 \
        NEXUS_UDP_ROUTES='53:30,5000' nexus-token issue -k "$T/hub.secret" --backend)
  run claims_of "$tok"
  assert_output --partial '"iss":"authorizer"'
  assert_output --partial '"aud":["nexus"]'
  assert_output --partial '"sub":"edge-1"'
  assert_output --partial '"session_nonce":"n0nce"'
  assert_output --partial '"hostnames":["a.example.com","b.example.com"]'
  assert_output --partial '"tcp_ports":[22,2222]'
  assert_output --partial '"udp_routes":[{"port":53,"flow_idle_timeout_seconds":30},{"port":5000}]'
  assert_output --partial '"weight":3'
  iat=$(claims_of "$tok" | sed 's/.*"iat":\([0-9]*\).*/\1/')
  exp=$(claims_of "$tok" | sed 's/.*"exp":\([0-9]*\).*/\1/')
  [ $((exp - iat)) -eq 30 ]
  run nexus-token verify -k "$T/hub.secret" --iss authorizer --aud nexus --require session_nonce "$tok"
  assert_success
  # a flag beats the variable
  tok=$(NEXUS_HOSTNAMES=env.example.com nexus-token issue -k "$T/hub.secret" --backend --hostname flag.example.com)
  run claims_of "$tok"
  assert_output --partial '"hostnames":["flag.example.com"]'
  # stage 1 without its nonce, or an unknown stage, is refused
  run env NEXUS_ATTESTATION_STAGE=attest nexus-token issue -k "$T/hub.secret" --backend
  assert_failure 1
  assert_output --partial "needs NEXUS_SESSION_NONCE"
  run env NEXUS_ATTESTATION_STAGE=bogus nexus-token issue -k "$T/hub.secret" --backend
  assert_failure 1
  run env NEXUS_TCP_PORTS=22,x nexus-token issue -k "$T/hub.secret" --backend
  assert_failure 1
  assert_output --partial "NEXUS_TCP_PORTS"
}

@test "issue refuses a public key; loose key permissions get a warning" {
  nexus-token keygen -t es256 -o "$T/ec.key"
  run nexus-token issue -k "$T/ec.key.pub"
  assert_failure 1
  assert_output --partial "public key"
  nexus-token keygen -t hs256 -o "$T/hs.key"
  chmod 644 "$T/hs.key"
  run nexus-token issue -k "$T/hs.key"
  assert_success
  assert_line --partial "warning: $T/hs.key is readable by group or others"
  # public keys may be world-readable
  run nexus-token verify -k "$T/ec.key.pub" "$(nexus-token issue -k "$T/ec.key")"
  assert_success
  refute_output --partial warning
}

@test "verify reads one token from stdin and prints its claims" {
  nexus-token keygen -t hs256 -o "$T/k"
  nexus-token issue -k "$T/k" --sub piped > "$T/tok"
  run nexus-token verify -k "$T/k" < "$T/tok"
  assert_success
  assert_output --partial '"sub":"piped"'
  run nexus-token verify -k "$T/k" - < "$T/tok"
  assert_success
}

@test "verify checks many tokens from stdin, one result line each" {
  nexus-token keygen -t hs256 -o "$T/k"
  nexus-token keygen -t hs256 -o "$T/other"
  { nexus-token issue -k "$T/k" --sub alice
    nexus-token issue -k "$T/other" --sub mallory
    echo
    echo "not-a-token"
    nexus-token issue -k "$T/k" --jti only-jti
    nexus-token issue -k "$T/k" --claim 'exp=1000'
  } > "$T/many"
  run nexus-token verify -k "$T/k" < "$T/many"
  assert_failure 1
  assert_equal "${#lines[@]}" 5
  assert_line --index 0 "valid alice"
  assert_line --index 1 "invalid: signature mismatch"
  assert_line --index 2 --partial "invalid: wrong segment count"
  assert_line --index 3 "valid only-jti"
  assert_line --index 4 "invalid: token expired"
  { nexus-token issue -k "$T/k" --sub a; nexus-token issue -k "$T/k" --jti none; } > "$T/good"
  run nexus-token verify -k "$T/k" < "$T/good"
  assert_success
  assert_line --index 0 "valid a"
  assert_line --index 1 "valid -"
}

@test "inspect shows header and claims, marked as not verified" {
  nexus-token keygen -t hs256 -o "$T/k"
  tok=$(nexus-token issue -k "$T/k" --sub insp --ttl 1h --kid key-7)
  run nexus-token inspect --human "$tok"
  assert_success
  assert_line --index 0 --partial "NOT VERIFIED"
  assert_output --partial '"kid": "key-7"'
  assert_output --partial '"sub": "insp"'
  assert_output --regexp 'exp  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC  \(in '
  run nexus-token inspect "$tok"
  assert_success
  assert_output --partial '{"verified":false,"header":{"alg":"HS256","typ":"JWT","kid":"key-7"}'
  # inspect does not need the key, and does not care about the signature
  run nexus-token inspect --json "${tok%.*}.AAAA"
  assert_success
  run nexus-token inspect "a.b"
  assert_failure 1
  assert_output --partial "malformed token"
}

@test "revoke appends to the deny-list that verify honours" {
  nexus-token keygen -t hs256 -o "$T/k"
  t1=$(nexus-token issue -k "$T/k" --sub one)
  t2=$(nexus-token issue -k "$T/k" --sub two --jti two-id)
  run nexus-token verify -k "$T/k" --deny-list "$T/deny" "$t1"
  assert_success
  run nexus-token revoke --deny-list "$T/deny" "$t1"
  assert_success
  assert_output --regexp '^revoked [0-9a-f-]{36}$'
  run nexus-token revoke --deny-list "$T/deny" --jti two-id --note "lost laptop"
  assert_success
  assert_file_contains "$T/deny" "two-id lost laptop"
  for t in "$t1" "$t2"; do
    run nexus-token verify -k "$T/k" --deny-list "$T/deny" "$t"
    assert_failure 1
    assert_output --partial "token revoked"
  done
  run nexus-token revoke --deny-list "$T/deny" "$(nexus-token issue -k "$T/k" --jti none)"
  assert_failure 1
  assert_output --partial "cannot be revoked"
  run nexus-token revoke "$t1"
  assert_failure 2
}

@test "options come from --config and NEXUS_TOKEN_ variables" {
  nexus-token keygen -t hs256 -o "$T/k"
  tok=$(nexus-token issue -k "$T/k" --iss authorizer --aud nexus)
  printf 'key %s\niss authorizer\naud nexus\n' "$T/k" > "$T/verify.conf"
  run nexus-token verify --config "$T/verify.conf" "$tok"
  assert_success
  printf 'iss someone-else\n' > "$T/bad.conf"
  run nexus-token verify -k "$T/k" --config "$T/bad.conf" "$tok"
  assert_failure 1
  assert_output --partial "wrong issuer"
  NEXUS_TOKEN_KEY="$T/k" run nexus-token verify "$tok"
  assert_success
}
