#!/usr/bin/env bats
# A tunnel that can never work as configured says so and exits 1 instead of retrying
# forever: wrong secret, mis-scoped token, a port the hub does not allow, a certificate
# from another CA or for another name, a wrong path. --retry keeps trying (services); once a
# session has served, the tunnel always reconnects, at once when it had served a while.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
}

# tunnel_once ARGS...: run nexus-tunnel against the hub until it exits (at most 10 s).
tunnel_once() {
  run timeout 10 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" "$@"
}

@test "a wrong secret: exit 1 within 10 s, one line naming --secret-file" {
  start_hub
  printf 'not-the-hub-secret-but-long-enough-for-hs256\n' > "$T/wrong"; chmod 600 "$T/wrong"
  tunnel_once --servername localhost --cafile "$T/hub.crt" --secret-file "$T/wrong" \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 1
  assert_output "nexus-tunnel: hub refused authentication (1008: stage0 token validation failed: signature mismatch): --secret-file must hold the hub's secret (or the key matching its --verify-key) (--retry keeps trying)"
}

@test "a wrong secret with --retry: the tunnel keeps trying, saying what to change each time" {
  start_hub
  printf 'not-the-hub-secret-but-long-enough-for-hs256\n' > "$T/wrong"; chmod 600 "$T/wrong"
  bg tunnel nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/wrong" --hostname app.test --to 127.0.0.1:9 --retry
  wait_log "$T/hub.log" 'msg="backend refused"' 2 20
  wait_log "$T/tunnel.log" 'hub refused authentication .*--secret-file must hold' 2
  wait_log "$T/tunnel.log" 'reconnecting in'
  kill -0 "$BG_PID"
}

@test "a token for another audience: exit 1, the hint names the aud claim" {
  start_hub
  tunnel_once --servername localhost --cafile "$T/hub.crt" --hostname app.test --to 127.0.0.1:9 \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --iss authorizer --aud elsewhere --hostname app.test"
  assert_failure 1
  assert_output --partial 'wrong audience'
  assert_output --partial 'tokens need aud "nexus"'
}

@test "a port the hub does not allow: exit 1, the hint names --allow-tcp-port" {
  start_hub
  tunnel_once --servername localhost --cafile "$T/hub.crt" --secret-file "$T/hub.secret" \
    --tcp-port 2222 --to 127.0.0.1:9
  assert_failure 1
  assert_output --partial 'tcp port 2222 not allowed'
  assert_output --partial '--allow-tcp-port'
}

@test "a hub certificate from another CA: exit 1, the hint names --cafile" {
  start_hub
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/other.key" -out "$T/other.crt" \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
  tunnel_once --servername localhost --cafile "$T/other.crt" --secret-file "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 1
  assert_output --partial 'not trusted'
  assert_output --partial 'give --cafile'
  [ "${#lines[@]}" -eq 1 ]
}

@test "a hub certificate for another name: exit 1, the hint names --servername" {
  start_hub
  tunnel_once --servername hub.example.org --cafile "$T/hub.crt" --secret-file "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 1
  assert_output --partial 'give --servername'
}

@test "a wrong path (404): exit 1, the hint names /connect" {
  start_hub
  run timeout 10 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/other" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/hub.secret" --hostname app.test --to 127.0.0.1:9
  assert_failure 1
  assert_output --partial 'hub answered 404'
  assert_output --partial 'on /connect'
}

@test "a hub that is not there yet is not a permanent error: the tunnel waits for it" {
  HUB_PORT=$(free_port)
  start_tunnel dev --hostname app.test --to 127.0.0.1:9
  wait_log "$T/tunnel-dev.log" 'cannot reach the hub' 2 20
  kill -0 "$BG_PID"
}

@test "after serving, a refusal is retried, and a session that served a while reconnects now" {
  start_hub
  start_tunnel dev --hostname app.test --to 127.0.0.1:9
  TPID=$BG_PID
  wait_backends 1
  sleep 6 # the session has served more than a few seconds
  kill -TERM "$HUB_PID"; wait "$HUB_PID" || true
  wait_log "$T/tunnel-dev.log" 'reconnecting now'
  # the hub comes back with another secret: the tunnel that served before keeps trying
  nexus-token keygen -t hs256 -o "$T/new.secret" >/dev/null
  mv "$T/hub.log" "$T/hub1.log"
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/new.secret" --relay-socket "$T/hub.sock"
  wait_log "$T/hub.log" 'msg="backend refused"' 2 30
  wait_log "$T/tunnel-dev.log" 'hub refused authentication .*--secret-file must hold'
  kill -0 "$TPID"
}
