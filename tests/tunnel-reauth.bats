#!/usr/bin/env bats
# Re-authentication: a stage-1 token with reauth_interval_seconds makes the hub ask for a
# fresh token at that interval (+0–20 %) while traffic flows; a backend that answers stays,
# one that stays silent past the grace or claims other routes is closed with 1008.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
}

@test "a backend that answers re-auth challenges keeps serving" {
  start_fake good --hostname app.test --reauth-interval 1 --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  wait_log "$T/backend-good.log" '^reauth-answered good' 3 15
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
  run grep -c 'backend refused' "$T/hub.log"
  assert_output 0
}

@test "a backend that ignores the challenge is closed with 1008 after the grace" {
  start_fake mute --hostname mute.test --reauth-interval 1 --reauth-answer none \
    --target "127.0.0.1:$PLAIN_PORT"
  wait_log "$T/backend-mute.log" '^closed code=1008' 1 15
  grep -q 'reauth token not received in time' "$T/hub.log"
}

@test "a re-auth token with other routes is refused with 1008" {
  start_fake sly --hostname sly.test --reauth-interval 1 --reauth-answer other-hosts \
    --target "127.0.0.1:$PLAIN_PORT"
  wait_log "$T/backend-sly.log" '^closed code=1008' 1 15
  # the backend sees the close before the hub's log line may be written: wait for it
  wait_log "$T/hub.log" 'reauth token validation failed: hostnames differ' 1 10
}
