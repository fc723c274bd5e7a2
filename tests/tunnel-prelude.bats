#!/usr/bin/env bats
# What the relay read before the hub took over (the prelude) arrives whole and in order: a
# ClientHello written 7 bytes at a time routes; an HTTP head of 40 KiB routes (split into
# frames of at most 32 KiB, never one oversized frame) without harming other streams; a
# client that half-closes after its request still gets the whole reply from a backend that
# negotiated half_close, and ends the stream on one that did not.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 3000000 /dev/urandom > "$T/three.bin"
  start_web secure --cert "$T/web.crt" --key "$T/web.key"; SECURE_PORT=$WEB_PORT
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
  start_backend tls --hostname app.test --target "127.0.0.1:$SECURE_PORT"
  start_backend plain2 --hostname plain2.test --target "127.0.0.1:$PLAIN_PORT"
  # the scripted backend checks every message the hub sends is within 32 785 bytes
  start_fake plain --hostname other.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 3
}

@test "a ClientHello written 7 bytes at a time routes by SNI" {
  run timeout 60 "$HELPERS/raw-client" tls-dribble "$RELAY_PORT" app.test "$T/web.crt" /who
  assert_success
  assert_output secure
}

@test "an HTTP head of 40 KiB routes, in frames of at most 32 KiB, beside other streams" {
  big=$(head -c 40960 /dev/zero | tr '\0' 'a')
  relay_curl -o "$T/bg.bin" "http://other.test:$RELAY_PORT/three.bin" &
  bgcurl=$!
  run relay_curl -H "X-Big: $big" "http://other.test:$RELAY_PORT/echo-head"
  assert_success
  len=${output%% *}
  [ "$len" -gt 40960 ]
  wait "$bgcurl"
  cmp "$T/bg.bin" "$T/three.bin"
  run grep -c oversized-from-hub "$T/backend-plain.log"
  assert_output 0
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output plain
}

@test "a client that half-closes after its request still gets the whole reply" {
  want=$(sha256sum < "$T/three.bin" | cut -d' ' -f1)
  run timeout 60 "$HELPERS/raw-client" half-close "$RELAY_PORT" plain2.test /three.bin
  assert_success
  assert_output "$want 3000000"
}

@test "without the half_close extension a client's FIN ends the stream (protocol.md §3)" {
  # a Nexus Proxy backend has no half-close: the end user's EOF is a disconnect, so the
  # client is not left waiting (and the hub holds nothing) until --idle-timeout
  run timeout 60 "$HELPERS/raw-client" half-close "$RELAY_PORT" other.test /three.bin
  wait_log "$T/hub.log" 'msg="stream closed".*route=other.test' 1 20
  wait_log "$T/backend-plain.log" stream-end 1 20
}

@test "half-close with a backend that negotiated the half_close extension" {
  start_fake hc --hostname hc.test --half-close --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 4
  grep -q 'extensions=half_close' "$T/backend-hc.log"
  # nexus-tunnel takes the extension too (plain2.test above went that way)
  if [ -e "$T/tunnel-plain2.log" ]; then grep -q 'backend=plain2 .*half_close=1' "$T/hub.log"; fi
  want=$(sha256sum < "$T/three.bin" | cut -d' ' -f1)
  run timeout 60 "$HELPERS/raw-client" half-close "$RELAY_PORT" hc.test /three.bin
  assert_success
  assert_output "$want 3000000"
}
