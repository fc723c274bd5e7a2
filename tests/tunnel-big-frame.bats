#!/usr/bin/env bats
# A Nexus Proxy server sends an HTTP head over 32 KiB as one message (protocol.md §7). The
# tunnel takes messages up to --max-frame (1 MiB by default), counted against that stream's
# buffer, so one user's big head does not end the session and every other stream with it.
load lib/common
load lib/tunnel-client

HELPERS="$NEXUS_SRC/tests/helpers"

suite_setup() {
  make_pki
  bg web "$HELPERS/web-server" --root "$T" --name web
  wait_log "$T/web.log" '^listening '
  WEB_PORT=$(awk '/^listening /{print $2; exit}' "$T/web.log")
}

big_head_request() {
  local big
  # two 50 KiB headers (Python's server takes header lines up to 64 KiB)
  big=$(head -c 51200 /dev/zero | tr '\0' 'a')
  curl -sS --max-time 60 -H "X-Big1: $big" -H "X-Big2: $big" \
    "http://127.0.0.1:$RELAY_PORT/echo-head"
}

@test "a 100 KiB frame from the hub is served, and the session goes on" {
  start_fake_hub big-frame
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_serving
  run big_head_request
  assert_success
  len=${output%% *}
  [ "$len" -gt 102400 ]
  run grep -Eo '"size": [0-9]+, "event": "sent_frame"' "$T/events"
  size=${output#*: }; size=${size%%,*}
  echo "# the hub sent one message of $size bytes" >&3
  [ "$size" -gt 102400 ]
  # same session: nothing closed, the next stream works too
  run curl -sS --max-time 30 "http://127.0.0.1:$RELAY_PORT/who"
  assert_output web
  run grep -c '"event": "session_closed"' "$T/events"
  assert_output 0
  run grep -c 'hub broke the protocol' "$T/tunnel.log"
  assert_output 0
}

@test "--max-frame 64KiB: a 100 KiB frame ends that session (1009), the tunnel reconnects" {
  start_fake_hub big-frame
  start_tunnel --secret-file "$T/secret" --hostname app.test --to "127.0.0.1:$WEB_PORT" \
    --max-frame 64KiB
  wait_serving
  run big_head_request
  wait_log "$T/tunnel.log" 'hub broke the protocol: frame of [0-9]+ bytes exceeds the limit of 65536'
  wait_log "$T/events" '"code": 1009'
  for i in $(seq 200); do
    [ "$(grep -c '"event": "registered"' "$T/events")" -ge 2 ] && break
    sleep 0.1
  done
  run grep -c '"event": "registered"' "$T/events"
  assert_output 2
  kill -0 "$TUNNEL_PID"
}

@test "--max-frame refuses a size below the protocol's 32 785 bytes" {
  run nexus-tunnel --hub wss://localhost:1/connect --secret-file "$T/secret" \
    --hostname app.test --to 127.0.0.1:9 --max-frame 1000
  assert_failure 2
  assert_line --index 0 --partial 'nexus-tunnel: --max-frame: 1000 is outside'
  run nexus-tunnel --hub wss://localhost:1/connect --secret-file "$T/secret" \
    --hostname app.test --to 127.0.0.1:9 --max-frame lots
  assert_failure 2
  assert_line --index 0 --partial 'nexus-tunnel: --max-frame:'
}
