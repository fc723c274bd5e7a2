#!/usr/bin/env bats
# nexus-token login, authorization code flow + PKCE against a real OpenID provider
# (npm oidc-provider on 127.0.0.1): curl plays the browser up to the loopback redirect,
# which is then delivered to the waiting login. Ends with a verified ID token, or our own
# user token; a wrong state, a replayed code, a tampered or foreign ID token, a wrong aud,
# a foreign nonce and an expired ID token are refused.
load lib/common
load lib/oidc

setup_file() { oidc_install; }

@test "code flow: the verified ID token is printed" {
  start_oidc
  login_bg l1 --client-id nexus-cli --scope email
  url=$(auth_url l1)
  [[ "$url" == *code_challenge_method=S256* && "$url" == *nonce=* && "$url" == *state=* ]]
  [[ "$url" == *redirect_uri=http%3A%2F%2F127.0.0.1%3A*%2Fcallback* ]]
  cb=$(browse "$url")
  [[ "$cb" == http://127.0.0.1:*/callback\?*code=* ]]
  run curl -sS --max-time 30 "$cb"
  assert_output --partial 'Logged in'
  wait "$LOGIN_PID"
  run nexus-token inspect --json "$(cat "$T/l1.out")"
  echo "$output" | jq -e --arg i "$ISSUER" '.header.alg == "RS256" and .claims.iss == $i and .claims.sub == "alice"
    and .claims.aud == "nexus-cli" and (.claims.nonce | length) > 20 and .claims.email == "alice@example.test"'
}

@test "code flow: a local process trickling bytes into the callback port holds it 10 s at most" {
  start_oidc
  login_bg l1 --client-id nexus-cli --scope email
  url=$(auth_url l1)
  cb=$(browse "$url")
  local port=${cb#http://127.0.0.1:}; port=${port%%/*}
  # first in line: one byte a second, never a whole request
  python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for b in b"GET /callback?x=" + b"y" * 60:
    try:
        s.send(bytes([b]))
    except OSError:
        break
    time.sleep(1)
' "$port" &
  NX_PIDS+=("$!")
  sleep 0.5
  run curl -sS --max-time 25 "$cb"
  assert_output --partial 'Logged in'
  wait "$LOGIN_PID"
  [ -s "$T/l1.out" ]
}

@test "code flow: an ES256-signed ID token (the JWKS holds an RSA and an EC key) verifies too" {
  start_oidc
  login_bg l1 --client-id nexus-es256
  cb=$(browse "$(auth_url l1)")
  curl -sS --max-time 30 "$cb" >/dev/null
  wait "$LOGIN_PID"
  run nexus-token inspect --json "$(cat "$T/l1.out")"
  echo "$output" | jq -e '.header.alg == "ES256" and .header.kid == "ec-1" and .claims.aud == "nexus-es256"'
}

@test "code flow with -k and a confidential client: our user token, which nexus-bind serve accepts" {
  start_oidc
  nexus-token keygen -t es256 -o "$T/user.key"
  printf '# who gets what\nbob devices:read\n*  devices:read   pairing\n' > "$T/scopes"
  login_bg l1 --client-id nexus-secret --client-secret-file <(echo shh-its-a-secret) \
    -k "$T/user.key" --ttl 1h --scope-map "$T/scopes"
  cb=$(browse "$(auth_url l1)")
  curl -sS --max-time 30 "$cb" >/dev/null
  wait "$LOGIN_PID"
  tok=$(cat "$T/l1.out")
  run nexus-token verify -k "$T/user.key.pub" --iss nexus-login --aud nexus-bind "$tok"
  assert_success
  echo "$output" | jq -e '.sub == "alice" and .scope == "devices:read pairing"'
  # and nexus-bind serve takes it as alice's user token
  port=$(free_port)
  bg serve nexus-bind --db "$T/bind.db" serve --listen "127.0.0.1:$port" \
    --verify-key "$T/user.key.pub" --iss nexus-login --aud nexus-bind
  wait_port "$port"
  run curl -sS --max-time 30 -X POST -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/v1/pairing-codes"
  echo "$output" | jq -e '.owner == "alice" and (.code | length) == 9'
  # nothing secret in what it said
  run cat "$T/l1.err"
  refute_output --partial shh-its-a-secret
  refute_output --partial "$tok"
}

@test "a redirect with the wrong state is refused, and nothing is printed" {
  start_oidc
  login_bg l1 --client-id nexus-cli
  cb=$(browse "$(auth_url l1)")
  bad=$(echo "$cb" | sed 's/state=[^&]*/state=forged/')
  run curl -sS --max-time 30 "$bad"
  assert_output --partial 'Login refused'
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 1 ]
  run cat "$T/l1.err"
  assert_output --partial 'login failed: redirect with a wrong state'
  [ ! -s "$T/l1.out" ]
}

@test "a redirect without the iss the provider announces (RFC 9207), or with another, is refused" {
  start_oidc
  for variant in strip swap; do
    login_bg "l-$variant" --client-id nexus-cli
    cb=$(browse "$(auth_url "l-$variant")")
    if [ "$variant" = strip ]; then
      bad=$(echo "$cb" | sed 's/[&?]iss=[^&]*//')
    else
      bad=$(echo "$cb" | sed 's/iss=[^&]*/iss=http%3A%2F%2F127.0.0.1%3A1/')
    fi
    [ "$bad" != "$cb" ]
    curl -sS --max-time 30 "$bad" >/dev/null
    rc=0; wait "$LOGIN_PID" || rc=$?
    [ "$rc" = 1 ]
    run cat "$T/l-$variant.err"
    assert_output --partial 'login failed: redirect with a missing or wrong iss'
  done
}

@test "an ID token carrying another nonce than the login sent is refused (an injected token)" {
  start_oidc
  login_bg l1 --client-id nexus-cli
  url=$(auth_url l1)
  # the browser (an attacker's page) asks the provider with a nonce of its own choosing
  bad=$(echo "$url" | sed 's/nonce=[^&]*/nonce=chosen-by-someone-else-0123456789/')
  [ "$bad" != "$url" ]
  cb=$(browse "$bad")
  curl -sS --max-time 30 "$cb" >/dev/null || true
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 1 ]
  run cat "$T/l1.err"
  assert_output --partial 'login failed: ID token: nonce mismatch'
  [ ! -s "$T/l1.out" ]
}

@test "a replayed code is refused: the provider will not redeem it twice" {
  start_oidc
  login_bg l1 --client-id nexus-cli
  cb=$(browse "$(auth_url l1)")
  curl -sS --max-time 30 "$cb" >/dev/null
  wait "$LOGIN_PID"
  code=$(echo "$cb" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  # a second login, handed the first one's code (with its own state, so only the code is old)
  login_bg l2 --client-id nexus-cli
  url2=$(auth_url l2)
  state2=$(echo "$url2" | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p')
  port2=$(echo "$url2" | sed -n 's/.*redirect_uri=http%3A%2F%2F127.0.0.1%3A\([0-9]*\)%2F.*/\1/p')
  curl -sS --max-time 30 "http://127.0.0.1:$port2/callback?code=$code&state=$state2&iss=$(printf %s "$ISSUER" | jq -sRr @uri)" >/dev/null
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 1 ]
  run cat "$T/l2.err"
  assert_output --partial 'login failed: token endpoint: invalid_grant'
}

@test "--id-token: a tampered, foreign-audience or expired ID token is refused" {
  OIDC_IDTOKEN_TTL=2 start_oidc
  login_bg l1 --client-id nexus-cli
  cb=$(browse "$(auth_url l1)")
  curl -sS --max-time 30 "$cb" >/dev/null
  wait "$LOGIN_PID"
  idt=$(cat "$T/l1.out")
  run nexus-token login --issuer "$ISSUER" --client-id nexus-cli --id-token - <<< "$idt"
  assert_success
  # the same signature over a payload saying sub "mallory"
  python3 - "$idt" > "$T/tampered" <<'PY'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
c["sub"] = "mallory"
p2 = base64.urlsafe_b64encode(json.dumps(c, separators=(",", ":")).encode()).rstrip(b"=").decode()
print(f"{h}.{p2}.{s}")
PY
  run nexus-token login --issuer "$ISSUER" --client-id nexus-cli --id-token "$T/tampered"
  assert_failure 1
  assert_output 'nexus-token: login failed: ID token: signature mismatch'
  run nexus-token login --issuer "$ISSUER" --client-id nexus-secret --id-token - <<< "$idt"
  assert_failure 1
  assert_output --partial 'login failed: ID token: wrong audience'
  # past its 2 s lifetime, with no leeway
  sleep 3
  run nexus-token login --issuer "$ISSUER" --client-id nexus-cli --leeway 0s --id-token - <<< "$idt"
  assert_failure 1
  assert_output --partial 'login failed: ID token: token expired'
}

@test "usage errors and an unreachable or non-loopback http issuer" {
  run nexus-token login --client-id x
  assert_failure 2
  assert_output --partial 'login needs --issuer and --client-id'
  run nexus-token login --issuer https://x --client-id x -k k
  assert_failure 2
  assert_output --partial '-k needs --ttl'
  run nexus-token login --issuer http://example.com --client-id x
  assert_failure 1
  assert_output --partial 'only https://'
  run nexus-token login --issuer "http://127.0.0.1:$(free_port)" --client-id x
  assert_failure 1
  assert_output --partial 'login failed:'
}
