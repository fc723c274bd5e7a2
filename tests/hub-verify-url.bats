#!/usr/bin/env bats
# nexus-hub --verify-url: backend tokens checked by a remote HTTPS verifier (protocol.md §2),
# here tests/helpers/token-verifier on 127.0.0.1, which insists on the hub's certificate as
# the TLS client certificate. valid → the claims are used; valid:false, 4xx and answers that
# are not answers refuse with 1008; the verifier down, 500 or slow past --verify-timeout fall
# back to --secret-file when there is one. The verifier runs on the hub's loop: while it
# hangs, the hub keeps carrying streams, and the waiting backend's stage deadline holds.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  printf 'a-secret-the-hub-does-not-know-but-long-enough\n' > "$T/other.secret"
  chmod 600 "$T/other.secret"
  start_web plain; PLAIN_PORT=$WEB_PORT
  echo valid > "$T/verifier.mode"
  VERIFIER_PORT=$(free_port)
  bg verifier "$HELPERS/token-verifier" --port "$VERIFIER_PORT" --cert "$T/hub.crt" \
    --key "$T/hub.key" --client-ca "$T/hub.crt" --mode-file "$T/verifier.mode" \
    --tokens-file "$T/tokens"
  VERIFIER_PID=$BG_PID
  wait_log "$T/verifier.log" '^listening '
  VERIFY=(--verify-url "https://127.0.0.1:$VERIFIER_PORT/verify" --verify-ca "$T/hub.crt")
}

# start_vhub [args]: a hub that asks the verifier, with no local key unless args give one.
start_vhub() {
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub.sock" -v "${VERIFY[@]}" "$@"
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
}

# tunnel_args NAME SECRET HOSTNAME: nexus-tunnel's arguments for app HOSTNAME.
tunnel_args() {
  TA=(nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost
      --cafile "$T/hub.crt" --secret-file "$2" --name "$1" --hostname "$3"
      --to "127.0.0.1:$PLAIN_PORT")
}

# refused SECRET: a tunnel with tokens from SECRET is refused; its output is in $output.
refused() {
  tunnel_args refused "$1" app.test
  run timeout 30 "${TA[@]}"
  assert_failure 1
  assert_output --partial 'hub refused authentication (1008: stage0 token validation failed'
}

serves() {
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "valid: the verifier's claims are used (a token the hub could not check itself)" {
  start_vhub
  start_relay
  tunnel_args remote "$T/other.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  serves
  # stage 0 and stage 1 were both asked, over TLS with the hub's certificate
  wait_log "$T/verifier.log" '^request mode=valid client=localhost path=/verify' 2
  # the token itself is never logged
  while read -r tok; do
    run grep -F -- "$tok" "$T/hub.log"
    assert_failure
  done < "$T/tokens"
}

# libcurl costs a process ~6 MB before main(): only a hub that asks a verifier loads it.
@test "libcurl is loaded by a hub with --verify-url, not by a hub or a tunnel without it" {
  start_vhub
  start_relay
  tunnel_args remote "$T/other.secret" app.test
  bg tunnel "${TA[@]}"
  TUNNEL_PID=$BG_PID
  wait_backends 1
  serves
  grep -q 'libcurl' "/proc/$HUB_PID/maps"
  run grep -c libcurl "/proc/$TUNNEL_PID/maps"
  assert_output 0
  kill "$TUNNEL_PID" "$HUB_PID" "$RELAY_PID"
  wait "$TUNNEL_PID" "$HUB_PID" "$RELAY_PID" 2>/dev/null || true
  VERIFY=()
  start_vhub --secret-file "$T/other.secret"
  start_relay
  tunnel_args local "$T/other.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  serves
  run grep -c libcurl "/proc/$HUB_PID/maps"
  assert_output 0
}

@test "valid:false refuses with the verifier's reason, even a token the hub's secret signed" {
  echo invalid > "$T/verifier.mode"
  start_vhub --secret-file "$T/hub.secret"
  refused "$T/hub.secret"
  assert_output --partial 'verifier: backend suspended by policy'
  grep -q 'msg="backend refused".*code=1008.*verifier: backend suspended by policy' "$T/hub.log"
}

@test "HTTP 500 or a verifier that is down: falls back to --secret-file" {
  echo 500 > "$T/verifier.mode"
  MP=$(free_port)
  start_vhub --secret-file "$T/hub.secret" --metrics "127.0.0.1:$MP"
  start_relay
  tunnel_args fallback "$T/hub.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  serves
  grep -q 'token verifier unavailable, checking the token locally.*HTTP status 500' "$T/hub.log"
  # both stages went to the verifier and fell back; counted, not refused
  curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"
  grep -qx 'nexus_hub_verifications_total{result="unavailable"} 2' "$T/m"
  grep -qx 'nexus_hub_verifications_total{result="refused"} 0' "$T/m"
  run promtool check metrics < "$T/m"
  assert_success
  # the verifier gone: a second backend still gets in, checked locally
  kill "$VERIFIER_PID"
  wait_log "$T/verifier.log" '^request' 2
  sleep 1
  tunnel_args fallback2 "$T/hub.secret" app.test
  bg tunnel2 "${TA[@]}"
  wait_backends 2
  wait_log "$T/hub.log" 'token verifier unavailable, checking the token locally.*error="[^"]*(onnect|refused)'
  serves
  # ... but a token the secret did not sign is still refused
  refused "$T/other.secret"
  assert_output --partial 'signature mismatch'
}

@test "with no local key: a 500 or a verifier that is down refuses" {
  echo 500 > "$T/verifier.mode"
  start_vhub
  refused "$T/hub.secret"
  assert_output --partial 'token verifier unavailable'
  grep -q 'msg="token verifier unavailable".*HTTP status 500' "$T/hub.log"
}

@test "garbage, a valid answer without claims and HTTP 403 refuse, with a fallback configured" {
  start_vhub --secret-file "$T/hub.secret"
  echo garbage > "$T/verifier.mode"
  refused "$T/hub.secret"
  assert_output --partial 'bad verifier answer: answer is not JSON'
  echo no-claims > "$T/verifier.mode"
  refused "$T/hub.secret"
  assert_output --partial 'bad verifier answer: valid answer without a "claims" object'
  echo 403 > "$T/verifier.mode"
  refused "$T/hub.secret"
  assert_output --partial 'verifier answered HTTP 403'
  kill -0 "$HUB_PID"
}

@test "the verifier's claims get the hub's claim checks (a port it does not allow)" {
  start_vhub
  tunnel_args port "$T/other.secret" app.test
  run timeout 30 "${TA[@]}" --tcp-port 2222
  assert_failure 1
  assert_output --partial 'tcp port 2222 not allowed'
}

@test "re-auth tokens go to the verifier too: it can end a session it let in" {
  start_vhub
  start_fake re --hostname app.test --reauth-interval 1 --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  wait_log "$T/backend-re.log" '^reauth-answered' 2 20
  echo invalid > "$T/verifier.mode"
  wait_log "$T/backend-re.log" '^closed code=1008' 1 20
  wait_log "$T/hub.log" 'reauth token validation failed: verifier: backend suspended by policy'
}

@test "a reconnect with the same stage-0 token is not sent to the verifier again" {
  # stage 0: one token minted once (10 minutes); stage 1: a fresh one with the nonce
  NEXUS_ATTESTATION_STAGE=handshake NEXUS_HOSTNAMES=app.test \
    nexus-token issue -k "$T/other.secret" --backend --sub same --ttl 10m > "$T/stage0"
  cat > "$T/token-cmd" <<EOS
#!/bin/sh
[ "\$NEXUS_ATTESTATION_STAGE" = handshake ] && exec cat "$T/stage0"
exec nexus-token issue -k "$T/other.secret" --backend --sub same
EOS
  chmod +x "$T/token-cmd"
  start_vhub --deny-list "$T/deny"
  start_relay
  TA=(nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost
      --cafile "$T/hub.crt" --token-cmd "$T/token-cmd" --name same --hostname app.test
      --to "127.0.0.1:$PLAIN_PORT")
  bg tunnel "${TA[@]}"
  wait_backends 1
  kill "$BG_PID"
  wait_log "$T/hub.log" 'msg="backend session ended"'
  bg tunnel2 "${TA[@]}"
  wait_backends 2
  serves
  # stage 0 + stage 1, then stage 1 only
  run grep -c '^request' "$T/verifier.log"
  assert_output 3
  grep -q 'msg="token verified before".*stage=stage0' "$T/hub.log"
  # what was remembered still gets the checks: revoked now, it is refused
  nexus-token revoke --deny-list "$T/deny" "$(cat "$T/stage0")"
  run timeout 30 "${TA[@]}"
  assert_failure 1
  assert_output --partial 'token revoked'
  run grep -c '^request' "$T/verifier.log"
  assert_output 3
}

@test "a verifier that hangs: the stage deadline refuses the backend, streams keep flowing" {
  start_vhub --secret-file "$T/hub.secret" --auth-timeout 10s
  start_relay
  tunnel_args first "$T/hub.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  echo hang > "$T/verifier.mode"
  tunnel_args waiting "$T/hub.secret" app.test
  bg tunnel2 "${TA[@]}"
  wait_log "$T/verifier.log" '^request mode=hang'
  # the hub's loop is not waiting for the verifier: the live tunnel serves meanwhile
  for i in 1 2 3; do serves; done
  wait_log "$T/hub.log" 'msg="backend refused".*stage0 token not verified in time' 1 30
  wait_log "$T/tunnel2.log" 'stage0 token not verified in time'
  serves
}

@test "--max-verify: past it a token is checked locally" {
  echo hang > "$T/verifier.mode"
  start_vhub --secret-file "$T/hub.secret" --max-verify 1 --auth-timeout 30s
  start_relay
  tunnel_args held "$T/hub.secret" app.test
  bg tunnel "${TA[@]}"
  wait_log "$T/verifier.log" '^request mode=hang'
  tunnel_args local "$T/hub.secret" app.test
  bg tunnel2 "${TA[@]}"
  wait_backends 1
  grep -q 'msg="token verifier busy" in_flight=1 .*local=1' "$T/hub.log"
  serves
}

@test "--max-verify without a local key: past it the backend is refused, busy" {
  echo hang > "$T/verifier.mode"
  start_vhub --max-verify 1 --auth-timeout 30s
  tunnel_args held "$T/hub.secret" app.test
  bg tunnel "${TA[@]}"
  wait_log "$T/verifier.log" '^request mode=hang'
  refused "$T/hub.secret"
  assert_output --partial 'token verifier busy'
}

@test "a verifier slower than --verify-timeout: falls back to --secret-file" {
  echo hang > "$T/verifier.mode"
  start_vhub --secret-file "$T/hub.secret" --verify-timeout 1s --auth-timeout 30s
  start_relay
  tunnel_args slow "$T/hub.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  grep -q 'token verifier unavailable, checking the token locally.*stage=stage0 error="[^"]*timed out' "$T/hub.log"
  serves
}

@test "--verify-url wants https; --verify-timeout a duration" {
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub.sock" --verify-url http://127.0.0.1:1/verify
  assert_failure 2
  assert_line --index 0 "nexus-hub: --verify-url: want an https:// URL, not 'http://127.0.0.1:1/verify'"
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub.sock" --verify-url https://127.0.0.1:1/verify --verify-timeout 10x
  assert_failure 2
  assert_line --index 0 --partial 'nexus-hub: --verify-timeout:'
}

@test "--check-config accepts --verify-url alone and says so" {
  run nexus-hub --check-config --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub.sock" "${VERIFY[@]}"
  assert_success
  assert_output --partial 'auth=verify-url '
  run nexus-hub --check-config --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub.sock" "${VERIFY[@]}" --secret-file "$T/hub.secret"
  assert_success
  assert_output --partial 'auth=secret+verify-url '
}

@test "SIGHUP: a new --verify-url from the --config file is used for the next tokens; removing it is refused" {
  dead=$(free_port)
  printf 'verify-url https://127.0.0.1:%s/verify\nverify-ca %s\n' "$dead" "$T/hub.crt" > "$T/hub.conf"
  VERIFY=(--config "$T/hub.conf")
  start_vhub
  start_relay
  refused "$T/other.secret"
  printf 'verify-url https://127.0.0.1:%s/verify\nverify-ca %s\n' "$VERIFIER_PORT" "$T/hub.crt" > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded"'
  tunnel_args remote "$T/other.secret" app.test
  bg tunnel "${TA[@]}"
  wait_backends 1
  serves
  : > "$T/hub.conf"
  printf 'secret-file %s\n' "$T/hub.secret" > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'configuration not reloaded, keeping the old one" error="adding or removing --verify-url needs a restart"'
  serves
}
