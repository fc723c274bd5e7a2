#!/usr/bin/env bats
# nexus-tunnel authenticating to a hub and keeping the session: tokens (built-in and
# --token-cmd), refusals, certificate checks, reconnects, keep-alive, re-authentication.
load lib/common
load lib/tunnel-client

suite_setup() { make_pki; }

@test "a wrong secret with --retry: the hub's 1008 reason is shown and the tunnel keeps retrying" {
  start_fake_hub
  printf 'wrong-secret-for-reject-test\n' > "$T/wrong"; chmod 600 "$T/wrong"
  start_tunnel --secret-file "$T/wrong" --hostname app.test --to 127.0.0.1:9 --retry
  wait_log "$T/tunnel.log" 'hub refused authentication \(1008: stage0 token validation failed: token signature is invalid\)'
  wait_log "$T/tunnel.log" 'reconnecting in'
  # it tries again by itself, and is still running
  wait_count "$T/events" '"event": "stage0_rejected"' 2 10
  kill -0 "$TUNNEL_PID"
}

@test "a hub that just hangs up after stage 0 (Go's way for an oversized reason) is reported" {
  start_fake_hub eof-after-stage0
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'hub closed the connection during the handshake'
}

@test "--token-cmd: run per stage with the NEXUS_ATTESTATION_* environment; nexus-token issue --backend works as one" {
  cat > "$T/tok.sh" <<EOF
#!/bin/sh
echo "\$NEXUS_ATTESTATION_STAGE nonce=\$NEXUS_SESSION_NONCE name=\$NEXUS_BACKEND_NAME hosts=\$NEXUS_HOSTNAMES weight=\$NEXUS_WEIGHT ports=\$NEXUS_TCP_PORTS" >> "$T/stages"
# (leak checking off: under make asan, nexus-token's own exit-time report is not ours to test)
exec nexus-token issue -k "$T/secret" --backend
EOF
  chmod +x "$T/tok.sh"
  start_fake_hub
  start_tunnel --token-cmd "$T/tok.sh" --hostname app.test --hostname '*.wild.test' \
    --name dev7 --to 127.0.0.1:9
  wait_serving
  run cat "$T/stages"
  assert_line --index 0 "handshake nonce= name=dev7 hosts=app.test,*.wild.test weight=1 ports="
  assert_line --index 1 --regexp '^attest nonce=[A-Za-z0-9_-]{43} name=dev7 hosts=app.test,\*.wild.test weight=1 ports=$'
  run grep '"event": "registered"' "$T/events"
  assert_output --partial '"sub": "dev7"'
}

@test "--token-cmd may print JSON {\"token\":…,\"expiry\":…}" {
  cat > "$T/tok.sh" <<EOF
#!/bin/sh
t=\$(nexus-token issue -k "$T/secret" --backend)
printf '{\n  "token": "%s",\n  "expiry": "2030-01-01T00:00:00Z"\n}\n' "\$t"
EOF
  chmod +x "$T/tok.sh"
  start_fake_hub
  start_tunnel --token-cmd "$T/tok.sh" --hostname app.test --to 127.0.0.1:9
  wait_serving
}

@test "a failing --token-cmd is reported with its exit status and retried" {
  start_fake_hub
  start_tunnel --token-cmd 'echo oops >&2; exit 3' --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'no handshake token: token command exited with status 3'
  wait_log "$T/tunnel.log" 'reconnecting in'
  # the command's own stderr reaches ours
  run grep -c oops "$T/tunnel.log"
  assert [ "$output" -ge 1 ]
}

@test "re-authentication: the tunnel answers a reauth_challenge with a fresh token carrying its nonce" {
  start_fake_hub reauth
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_serving
  wait_log "$T/events" '"event": "reauth_ok"'
  run grep -c reauth_bad "$T/events"
  assert_output 0
}

@test "a hub certificate from an unknown CA is refused" {
  start_fake_hub
  bg tunnel nexus-tunnel --hub "$HUB_URL" --cafile "$T/other.crt" --secret-file "$T/secret" \
    --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'certificate is not trusted \(unknown CA\)'
  run grep -c '"event": "upgrade"' "$T/events"
  assert_output 0
}

@test "a hub certificate for another name is refused" {
  start_fake_hub
  start_tunnel --servername hub.example.org --secret-file "$T/secret" --hostname app.test \
    --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'certificate does not match host'
}

@test "a hub that is down at start is reached once it comes up (backoff, no restart)" {
  HUB_PORT=$(free_port)
  HUB_URL="wss://localhost:$HUB_PORT/connect"
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" "cannot reach the hub at localhost:$HUB_PORT"
  RELAY_PORT=$(free_port)
  bg hub "$PY" "$NEXUS_SRC/tests/helpers/fake-hub.py" --port "$HUB_PORT" --cert "$T/hub.crt" \
    --key "$T/hub.key" --secret-file "$T/secret" --relay-port "$RELAY_PORT" --events "$T/events"
  wait_serving 20
}

@test "a silent hub is dropped after --idle-timeout and the tunnel reconnects" {
  start_fake_hub silent
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9 \
    --ping 500ms --idle-timeout 2s
  wait_serving
  wait_log "$T/tunnel.log" 'session ended: hub silent for 2s' 10
  wait_log "$T/tunnel.log" 'reconnecting in'
}

@test "a wrong path: the hub's 404 is reported" {
  start_fake_hub
  bg tunnel nexus-tunnel --hub "wss://localhost:$HUB_PORT/other" --cafile "$T/hub.crt" \
    --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'hub answered 404 Not Found instead of switching to WebSocket'
}

@test "a hub that breaks the WebSocket protocol is left with a close code and a retry" {
  start_fake_hub garbage
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'hub broke the protocol: frame with reserved bits set'
  wait_log "$T/tunnel.log" 'reconnecting in'
  wait_log "$T/events" '"code": 1002'
}

@test "a message over --max-frame (1 MiB) from the hub ends the session (1009), not the tunnel" {
  start_fake_hub oversized
  start_tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel.log" 'hub broke the protocol: frame of 1048593 bytes exceeds the limit of 1048576'
  wait_log "$T/events" '"code": 1009'
  kill -0 "$TUNNEL_PID"
}

@test "re-authentication with --token-cmd: the command runs with stage reauth and the new nonce" {
  cat > "$T/tok.sh" <<EOF2
#!/bin/sh
echo "\$NEXUS_ATTESTATION_STAGE \$NEXUS_SESSION_NONCE" >> "$T/stages"
exec nexus-token issue -k "$T/secret" --backend
EOF2
  chmod +x "$T/tok.sh"
  start_fake_hub reauth
  start_tunnel --token-cmd "$T/tok.sh" --hostname app.test --to 127.0.0.1:9
  wait_log "$T/events" '"event": "reauth_ok"'
  run cut -d' ' -f1 "$T/stages"
  assert_output "$(printf 'handshake\nattest\nreauth')"
  # a fresh nonce, not the session's
  run bash -c "cut -d' ' -f2 '$T/stages' | sort -u | wc -l"
  assert_output 3
}
