#!/usr/bin/env bats
# Faults: killing the backend ends its streams cleanly (the client sees the end, never a
# hang); a restarted hub is found again by the same relay and by reconnecting tunnels.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 50000000 /dev/zero > "$T/huge.bin"
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
}

@test "killing the backend ends its streams cleanly and the hub carries on" {
  start_backend victim --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  victim=$BG_PID
  wait_backends 1
  relay_curl --limit-rate 500k -o "$T/part.bin" "http://app.test:$RELAY_PORT/huge.bin" \
    2> "$T/curl.err" &
  curlpid=$!
  wait_log "$T/hub.log" 'msg="stream open"'
  sleep 1
  kill -KILL "$victim"
  rc=0; wait "$curlpid" || rc=$?
  cat "$T/curl.err" >&3
  [ "$rc" -ne 0 ] && [ "$rc" -ne 28 ] # a short transfer, reported at once; 28 would be a hang
  wait_log "$T/hub.log" 'msg="backend session ended"'
  start_backend next --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 2
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}

@test "restarting the hub does not need the relay restarted" {
  start_fake first --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
  kill -TERM "$HUB_PID"
  for _ in $(seq 50); do kill -0 "$HUB_PID" 2>/dev/null || break; sleep 0.1; done
  mv "$T/hub.log" "$T/hub-1.log"
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_fake second --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  for i in 1 2 3; do
    run relay_curl "http://app.test:$RELAY_PORT/who"
    [ "$output" = plain ] && break
    sleep 1
  done
  assert_output plain
  kill -0 "$RELAY_PID"
}

@test "a tunnel reconnects when the hub comes back" {
  command -v nexus-tunnel >/dev/null || skip "nexus-tunnel is not built on this branch"
  start_tunnel t1 --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
  kill -TERM "$HUB_PID"
  for _ in $(seq 50); do kill -0 "$HUB_PID" 2>/dev/null || break; sleep 0.1; done
  mv "$T/hub.log" "$T/hub-1.log"
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}
