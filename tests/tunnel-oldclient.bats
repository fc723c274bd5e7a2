#!/usr/bin/env bats
# The older Nexus Proxy backend client never sends resume_stream: the hub must then send
# without limit (credits only start with the first grant) and still carry both directions.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 5000000 /dev/urandom > "$T/five.bin"
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
  start_fake old --hostname app.test --no-grants --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
}

@test "downloads and uploads work with a backend that never grants credits" {
  relay_curl -o "$T/got.bin" "http://app.test:$RELAY_PORT/five.bin"
  cmp "$T/got.bin" "$T/five.bin"
  run relay_curl -H 'Expect:' -T "$T/five.bin" "http://app.test:$RELAY_PORT/upload"
  assert_output "$(sha256sum < "$T/five.bin" | cut -d' ' -f1) 5000000"
}
