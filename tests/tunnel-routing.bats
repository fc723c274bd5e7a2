#!/usr/bin/env bats
# HTTPS by SNI and HTTP by Host reach the right local service through relay → hub →
# backend (nexus-tunnel, and the scripted backend that shows the connect fields); a wildcard
# hostname works; names nobody serves get the relay's no-route answer.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web secure --cert "$T/web.crt" --key "$T/web.key"; SECURE_PORT=$WEB_PORT
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_web wild; WILD_PORT=$WEB_PORT
  start_hub
  start_relay
  start_backend tls --hostname app.test --target "127.0.0.1:$SECURE_PORT"
  # the scripted backend prints each connect, so the protocol fields can be checked
  start_fake plain --hostname other.test --target "127.0.0.1:$PLAIN_PORT"
  start_backend wild --hostname '*.wild.test' --target "127.0.0.1:$WILD_PORT"
  wait_backends 3
}

@test "HTTPS by SNI reaches the TLS service, certificate checked end to end" {
  run relay_curl "https://app.test:$RELAY_PORT/who"
  assert_success
  assert_output secure
  grep -q 'msg="stream open".*route=app.test' "$T/hub.log"
}

@test "HTTP by Host reaches the plain service" {
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
  # the route key never carries the port; conn_port is the relay port
  grep -q "connect other.test $RELAY_PORT 127.0.0.1:" "$T/backend-plain.log"
}

@test "a wildcard hostname serves one label, not two, not the bare domain" {
  run relay_curl "http://a.wild.test:$RELAY_PORT/who"
  assert_success
  assert_output wild
  run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    --resolve "a.b.wild.test:$RELAY_PORT:127.0.0.1" "http://a.b.wild.test:$RELAY_PORT/who"
  refute_output 200
  run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    --resolve "wild.test:$RELAY_PORT:127.0.0.1" "http://wild.test:$RELAY_PORT/who"
  refute_output 200
}

@test "a name nobody serves gets no route, and the hub keeps serving" {
  run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    --resolve "nobody.test:$RELAY_PORT:127.0.0.1" "http://nobody.test:$RELAY_PORT/who"
  refute_output 200
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output plain
  kill -0 "$HUB_PID"
}
