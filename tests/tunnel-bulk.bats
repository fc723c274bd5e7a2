#!/usr/bin/env bats
# 100 MB each way through relay → hub → backend arrives intact (same sha256): a download
# over end-to-end TLS and an upload over plain HTTP.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 100000000 /dev/urandom > "$T/big.bin"
  start_web secure --cert "$T/web.crt" --key "$T/web.key"; SECURE_PORT=$WEB_PORT
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
  start_backend tls --hostname app.test --target "127.0.0.1:$SECURE_PORT"
  start_backend plain --hostname other.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 2
}

@test "a 100 MB download over TLS arrives intact" {
  relay_curl -o "$T/got.bin" "https://app.test:$RELAY_PORT/big.bin"
  [ "$(sha256sum < "$T/got.bin")" = "$(sha256sum < "$T/big.bin")" ]
}

@test "a 100 MB upload arrives intact" {
  run relay_curl -H 'Expect:' -T "$T/big.bin" "http://other.test:$RELAY_PORT/upload"
  assert_success
  assert_output "$(sha256sum < "$T/big.bin" | cut -d' ' -f1) 100000000"
}
