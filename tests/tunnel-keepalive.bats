#!/usr/bin/env bats
# Keep-alive: the hub pings its backends and drops one that stays silent past
# --backend-timeout (60 s by default; short here), taking its routes away; a backend that
# answers pings stays.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub --ping-interval 1s --backend-timeout 3s
  start_relay
}

@test "a frozen backend is dropped, a live one stays" {
  start_fake frozen --hostname frozen.test --target "127.0.0.1:$PLAIN_PORT"
  frozen=$BG_PID
  start_backend live --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 2
  kill -STOP "$frozen"
  wait_log "$T/hub.log" 'backend silent \(keep-alive timeout\)' 1 15
  kill -CONT "$frozen"
  run relay_curl -o /dev/null -w '%{http_code}' --resolve "frozen.test:$RELAY_PORT:127.0.0.1" \
    "http://frozen.test:$RELAY_PORT/who"
  refute_output 200
  sleep 4 # longer than --backend-timeout: the live one answered the pings
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
  run grep -c 'backend silent' "$T/hub.log"
  assert_output 1
}
