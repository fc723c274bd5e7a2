#!/usr/bin/env bats
# The initial_window extension (§6, ours): a backend that claims it is never sent more than
# a window (64 frames) before its first grant. Without it the protocol lets the hub send
# without limit until then, and a fast end user could bury a backend that is slow to grant
# (nexus-tunnel drops such a stream rather than buffer without bound).
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 5000000 /dev/urandom > "$T/five.bin"
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
}

@test "a backend with initial_window that never grants gets exactly one window" {
  start_fake slow --hostname app.test --no-grants --initial-window --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  # 5 MB is far more than 64 frames of at most 32 KiB: the upload must stall at the window
  run relay_curl --max-time 4 -H 'Expect:' -T "$T/five.bin" "http://app.test:$RELAY_PORT/upload"
  assert_failure
  # the stalled stream is not read, so it ends with the session: stop the hub
  kill -TERM "$HUB_PID"
  wait_log "$T/backend-slow.log" '^stream-end ' 1 15
  run awk '/^stream-end /{print $4}' "$T/backend-slow.log"
  assert_output 64
}

@test "without the extension the hub still sends without limit until the first grant" {
  start_fake old --hostname app.test --no-grants --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  run relay_curl -H 'Expect:' -T "$T/five.bin" "http://app.test:$RELAY_PORT/upload"
  assert_output "$(sha256sum < "$T/five.bin" | cut -d' ' -f1) 5000000"
}

@test "nexus-tunnel negotiates initial_window with the hub" {
  start_tunnel dev --hostname app.test --to "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
  run relay_curl -H 'Expect:' -T "$T/five.bin" "http://app.test:$RELAY_PORT/upload"
  assert_output "$(sha256sum < "$T/five.bin" | cut -d' ' -f1) 5000000"
  grep -q 'backend registered.*initial_window=1' "$T/hub.log"
}
