#!/usr/bin/env bats
# The gate honours the end of a session before its expiry: nexus-bind end-session, unbind
# and revoke put it on the signed list nexus-bind serve publishes (GET /v1/revocations),
# which nexus-tunnel --gate-revocations fetches (every 10 s by default; here, with
# --gate-revocations-max-age 12s, every 4 s); the next request is refused and an open
# WebSocket is closed. With the list out of reach for longer than the max age the gate fails
# closed (503). Bounds are generous (the machine is shared); nothing is timed.
load lib/common
load lib/tunnel
load lib/gate

suite_setup() {
  gate_keys
  API_PORT=$(free_port)
  bg api nexus-bind serve --listen "127.0.0.1:$API_PORT" --verify-key "$T/users.secret" \
    --grant-key "$T/grant.key" --host '{device}.ui.test'
  API_PID=$BG_PID
  wait_port "$API_PORT"
  GATE_TUNNEL_ARGS=(--gate-revocations "http://127.0.0.1:$API_PORT/v1/revocations"
    --gate-revocations-max-age 12s)
  gate_start
  wait_log "$T/tunnel-gate.log" 'gate: revocation list fetched' 1 30
}

# A session for $1 on $2: SID, COOKIE.
new_session() {
  local j
  j=$(nexus-bind session "$2" --user-token "$T/$1.tok" --verify-key "$T/users.secret" \
    --grant-key "$T/grant.key" --host '{device}.ui.test' --json)
  SID=$(jq -r .session <<<"$j")
  gcurl -o /dev/null -D "$T/s.h" "$(jq -r .url <<<"$j")"
  COOKIE=$(cookie_of "$T/s.h")
  [ -n "$COOKIE" ]
}

status_of() {
  gcurl -o /dev/null -w '%{http_code}' -H 'Accept: application/json' \
    -H "Cookie: __Host-nx=$COOKIE" "https://dev${1:-1}.ui.test/headers"
}

# wait_status CODE [DEV]: until a request answers CODE (at most 60 s)
wait_status() {
  local i s
  for i in $(seq 60); do
    s=$(status_of "${2:-1}")
    [ "$s" = "$1" ] && return 0
    sleep 1
  done
  echo "still $s after 60 s, wanted $1" >&2
  return 1
}

@test "the list is signed and names only session ids" {
  new_session alice dev1
  nexus-bind end-session "$SID"
  run curl -sS "http://127.0.0.1:$API_PORT/v1/revocations"
  assert_success
  run nexus-token verify -k "$T/grant.key.pub" --iss nexus-bind "$output"
  assert_success
  assert_output --partial '"typ":"nx-revocations"'
  assert_output --partial "\"revoked\":[\"$SID\"]"
}

@test "nexus-bind end-session is honoured by the gate" {
  new_session alice dev1
  [ "$(status_of)" = 200 ]
  nexus-bind end-session "$SID"
  wait_status 401
  grep -q "gate: refused.*sid=$SID reason=\"session revoked\"" "$T/tunnel-gate.log"
  # the page load gets the HTML page
  run gcurl -H 'Sec-Fetch-Mode: navigate' -H "Cookie: __Host-nx=$COOKIE" https://dev1.ui.test/
  assert_output --partial 'This session has ended'
  # a second end is a clear refusal
  run nexus-bind end-session "$SID"
  assert_failure
  assert_output --partial "no open session $SID"
}

@test "unbind and revoke of the device end its sessions" {
  new_session alice dev1
  A=$COOKIE
  new_session bob dev2
  B=$COOKIE
  COOKIE=$A; [ "$(status_of 1)" = 200 ]
  COOKIE=$B; [ "$(status_of 2)" = 200 ]
  nexus-bind unbind dev1
  nexus-bind revoke dev2 >/dev/null
  COOKIE=$A; wait_status 401 1
  COOKIE=$B; wait_status 401 2
  nexus-bind audit | grep -q 'unbind device=dev1'
}

@test "an open WebSocket is closed when its session ends" {
  new_session alice dev1
  cat > "$T/ws.py" <<PY
import asyncio, ssl, sys, time, websockets
async def main():
    ctx = ssl.create_default_context(cafile="$T/ca.crt")
    sock_args = dict(host="127.0.0.1", port=$RELAY_PORT, server_hostname="dev1.ui.test", ssl=ctx)
    async with websockets.connect("wss://dev1.ui.test/ws", origin="https://dev1.ui.test",
                                  extra_headers={"Cookie": "__Host-nx=$COOKIE"},
                                  open_timeout=30, **sock_args) as ws:
        await ws.send("hello"); print("echo", await ws.recv(), flush=True)
        open("$T/ws-open", "w").close()
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 90)
        except websockets.ConnectionClosed:
            print("closed", flush=True)
        except asyncio.TimeoutError:
            print("still open", flush=True)
asyncio.run(main())
PY
  /usr/bin/python3 "$T/ws.py" > "$T/ws.out" 2>&1 &
  WS_PID=$!
  wait_file "$T/ws-open" 30 || { cat "$T/ws.out"; false; }
  nexus-bind end-session "$SID"
  wait "$WS_PID" || true
  cat "$T/ws.out"
  grep -q '^echo hello$' "$T/ws.out"
  grep -q '^closed$' "$T/ws.out"
}

@test "with the list out of reach for longer than its max age the gate fails closed" {
  new_session alice dev1
  [ "$(status_of)" = 200 ]
  kill "$API_PID"
  wait_log "$T/tunnel-gate.log" 'gate: cannot fetch the revocation list' 1 30
  wait_status 503
  run gcurl -D - -o /dev/null -H "Cookie: __Host-nx=$COOKIE" https://dev1.ui.test/headers
  assert_line --partial 'Retry-After: 10'
  grep -q 'reason="revocation list stale: failing closed"' "$T/tunnel-gate.log"
}
