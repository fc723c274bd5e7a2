#!/usr/bin/env bats
# nexus-token login --device-flow (RFC 8628) against npm oidc-provider: it prints the user
# code and URL, polls at the server's interval (and slower after slow_down) while the user
# approves elsewhere (curl with a cookie jar), and ends with a verified ID token or our
# user token.
load lib/common
load lib/oidc

setup_file() { oidc_install; }

@test "device flow: user code shown, approved elsewhere, our user token minted" {
  start_oidc
  nexus-token keygen -t es256 -o "$T/user.key"
  login_bg d1 --client-id nexus-cli --device-flow --scope email -k "$T/user.key" --ttl 10m \
    --sub-claim email
  line=$(wait_line "$T/d1.err" 'enter the code')
  [[ "$line" =~ open\ $ISSUER/device\ and\ enter\ the\ code\ [A-Z-]+ ]]
  complete=$(wait_line "$T/d1.err" '^nexus-token: or open ' | sed 's/^nexus-token: or open //')
  approve_device "$complete"
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 0 ] || { cat "$T/d1.err"; return 1; }
  run nexus-token verify -k "$T/user.key.pub" --iss nexus-login --aud nexus-bind "$(cat "$T/d1.out")"
  assert_success
  echo "$output" | jq -e '.sub == "alice@example.test" and .email == "alice@example.test"'
}

@test "device flow: slow_down makes it poll more slowly, and it still completes with the ID token" {
  OIDC_SLOW_DOWN=1 start_oidc
  login_bg d1 --client-id nexus-cli --device-flow
  complete=$(wait_line "$T/d1.err" '^nexus-token: or open ' | sed 's/^nexus-token: or open //')
  # approve only after the poll that was told slow_down
  wait_line "$T/oidc.log" '^poll [0-9]+ slow_down$' >/dev/null
  approve_device "$complete"
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 0 ] || { cat "$T/d1.err"; return 1; }
  run nexus-token inspect --json "$(cat "$T/d1.out")"
  echo "$output" | jq -e --arg i "$ISSUER" '.claims.iss == $i and .claims.sub == "alice"'
  # after slow_down the next poll waited the interval (1 s) plus 5 s: a lower bound only
  slow=$(sed -n 's/^poll \([0-9]*\) slow_down$/\1/p' "$T/oidc.log")
  next=$(awk -v s="$slow" '$1 == "poll" && $2 > s { print $2; exit }' "$T/oidc.log")
  echo "slow_down at $slow, next poll at $next"
  [ $((next - slow)) -ge 5500 ]
}

@test "device flow: the user aborts, the login fails with the provider's reason" {
  start_oidc
  login_bg d1 --client-id nexus-cli --device-flow
  complete=$(wait_line "$T/d1.err" '^nexus-token: or open ' | sed 's/^nexus-token: or open //')
  jar="$T/dc"
  page=$(curl -sS --max-time 30 -b "$jar" -c "$jar" "$complete")
  xsrf=$(echo "$page" | sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' | head -1)
  code=$(echo "$page" | sed -n 's/.*name="user_code" value="\([^"]*\)".*/\1/p' | head -1)
  curl -sS --max-time 30 -b "$jar" -c "$jar" -o /dev/null --data-urlencode "xsrf=$xsrf" \
    --data-urlencode "user_code=$code" -d abort=yes "$ISSUER/device"
  rc=0; wait "$LOGIN_PID" || rc=$?
  [ "$rc" = 1 ]
  run cat "$T/d1.err"
  assert_output --partial 'login failed: token endpoint: access_denied'
  [ ! -s "$T/d1.out" ]
}
