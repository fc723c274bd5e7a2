#!/usr/bin/env bats
# Backend authentication and bad input at the hub: refused tokens get close code 1008 with a
# reason; oversized messages, garbage frames and unknown events cost at most the offending
# session; the hub stays up and keeps serving the good backend.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub --allow-tcp-port 2222 --auth-timeout 3s --deny-list "$T/deny"
  start_relay
  start_fake good --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
}

# refused NAME ARGS...: a fake backend with ARGS is closed with 1008 during the handshake.
refused() {
  local name=$1; shift
  run timeout 20 "$HELPERS/fake-backend" --hub "127.0.0.1:$HUB_PORT" --ca "$T/hub.crt" \
    --secret "$T/hub.secret" --name "$name" "$@"
  assert_failure 3
  assert_output --partial 'closed code=1008'
}

@test "a backend token whose jti is on the --deny-list is refused with 1008" {
  nexus-token revoke --deny-list "$T/deny" --jti revoked-backend
  refused revoked --hostname evil.test \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend --jti revoked-backend"
  grep -q 'msg="backend refused".*token revoked' "$T/hub.log"
  # the same command with another id is let in
  start_fake fresh --hostname fresh.test --target "127.0.0.1:$PLAIN_PORT" \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend --jti fresh-backend"
  wait_log "$T/hub.log" 'backend registered.*backend=fresh'
}

@test "a backend whose clock runs a few seconds ahead (iat in the future) is accepted" {
  start_fake ahead --hostname ahead.test --token-mode future-iat --target "127.0.0.1:$PLAIN_PORT"
  wait_log "$T/hub.log" 'backend registered.*backend=ahead'
}

still_serving() {
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
  kill -0 "$HUB_PID"
}

@test "expired, tampered, wrong-audience, wrong-secret and alg-none tokens are refused with 1008" {
  for mode in expired tampered wrong-aud no-aud wrong-secret alg-none; do
    refused "bad-$mode" --hostname evil.test --token-mode "$mode"
  done
  grep -q 'msg="backend refused".*code=1008' "$T/hub.log"
  run relay_curl -o /dev/null -w '%{http_code}' --resolve "evil.test:$RELAY_PORT:127.0.0.1" \
    "http://evil.test:$RELAY_PORT/who"
  refute_output 200
  still_serving
}

@test "a stage-1 token with other hostnames, weight or nonce is refused with 1008" {
  refused s1-hosts --hostname app.test --stage1-hostname evil.test
  assert_output --partial 'differ'
  refused s1-more --hostname app.test --stage1-hostname app.test --stage1-hostname evil.test
  refused s1-weight --hostname app.test --weight 1 --stage1-weight 5
  refused s1-nonce --hostname app.test --stage1-nonce AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
  # the refused backends never got app.test: all requests still reach the good one
  for i in 1 2 3 4; do still_serving; done
}

@test "port claims need --allow-tcp-port; a wildcard like *.com is refused" {
  refused port-bad --tcp-port 2223
  assert_output --partial 'not allowed'
  refused star-com --hostname '*.com'
  start_fake port-ok --tcp-port 2222 --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 2
  grep -q 'routes=tcp:2222' "$T/hub.log"
}

@test "a message over 32785 bytes ends that session only" {
  start_fake big --hostname big.test --after-auth oversized
  wait_log "$T/backend-big.log" '^closed code=1009'
  still_serving
}

@test "garbage frames end that session only" {
  start_fake junk --hostname junk.test --after-auth garbage
  wait_log "$T/backend-junk.log" '^closed code=100[29]'
  still_serving
}

@test "unknown events, bad control JSON and unasked text are ignored" {
  start_fake odd --hostname odd.test --after-auth unknown-event --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 2
  run relay_curl --resolve "odd.test:$RELAY_PORT:127.0.0.1" "http://odd.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
  still_serving
}

@test "a backend that never sends its token is closed after the auth timeout" {
  run timeout 20 openssl s_client -connect "127.0.0.1:$HUB_PORT" -quiet -CAfile "$T/hub.crt" \
    < <(printf 'GET /connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'; sleep 8)
  assert_output --partial '101 Switching Protocols'
  grep -q 'stage0 token not received in time' "$T/hub.log"
}

@test "other paths answer 404, plain HTTP on the TLS port gets nothing, the hub lives on" {
  run curl -sS --max-time 10 --cacert "$T/hub.crt" -o /dev/null -w '%{http_code}' \
    "https://localhost:$HUB_PORT/other"
  assert_output 404
  run curl -sS --max-time 5 "http://127.0.0.1:$HUB_PORT/connect"
  assert_failure
  still_serving
}

@test "connections that never authenticate are capped; the hub recovers when they go" {
  # a hub of its own, with the default deadlines; one source gets 16 pending connections
  # (hub-preauth-flood.bats has the per-source and global caps in detail)
  port=$(free_port)
  bg hub2 nexus-hub --listen "127.0.0.1:$port" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub2.sock"
  wait_port "$port"
  python3 - "$port" > "$T/flood.out" <<'PY'
import socket, sys, time
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(1100)]
time.sleep(1)
closed = 0
for c in conns:
    c.setblocking(False)
    try:
        closed += c.recv(1) == b""
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
print("closed", closed, flush=True)
PY
  run awk '{print $2}' "$T/flood.out"
  [ "$output" -ge 70 ] # no more than 16 from this address wait at once
  grep -q 'too many unauthenticated connections from one source' "$T/hub2.log"
  # the flood is gone: a backend gets in again
  bg after "$HELPERS/fake-backend" --hub "127.0.0.1:$port" --ca "$T/hub.crt" \
    --secret "$T/hub.secret" --hostname after.test --after-auth silent
  wait_log "$T/hub2.log" 'msg="backend registered".*routes=after.test' 1 15
}

@test "a hundred bad-token knocks in a row are logged ten a second at most, and all counted" {
  local before; before=$(wc -l < "$T/hub.log")
  run "$HELPERS/bad-token-knocks" --hub "127.0.0.1:$HUB_PORT" --ca "$T/hub.crt" --count 100
  assert_success
  [ "$(grep -c '^closed 1008$' <<<"$output")" = 101 ]
  local secs; secs=$(awk '/^elapsed /{print int($2) + 1}' <<<"$output")
  # the refusal lines for those knocks: the last (after the pause) carries what was folded
  tail -n +"$((before + 1))" "$T/hub.log" | grep 'msg="backend refused"' > "$T/knocks.log" || true
  rate_limited "$T/knocks.log" 101 "$secs"
  still_serving
}
