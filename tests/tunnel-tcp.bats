#!/usr/bin/env bats
# Port claims: bytes that are neither TLS nor HTTP route as tcp:<relay port> to the backend
# that claimed that port (allowed with --allow-tcp-port); a name never falls back to it.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  ECHO_PORT=$(free_port)
  bg echo socat "TCP-LISTEN:$ECHO_PORT,bind=127.0.0.1,fork,reuseaddr" EXEC:cat
  wait_port "$ECHO_PORT"
  RELAY_PORT=$(free_port)
  start_hub --allow-tcp-port "$RELAY_PORT"
  start_relay
  start_backend echo --tcp-port "$RELAY_PORT" --target "127.0.0.1:$ECHO_PORT"
  wait_backends 1
}

@test "a plain TCP protocol reaches the port claim and echoes back" {
  run bash -c "printf '\\000HELO nexus\\n' | timeout 10 socat -t 2 - TCP:127.0.0.1:$RELAY_PORT | tr -d '\\000'"
  assert_success
  assert_output --partial 'HELO nexus'
  grep -q "msg=\"stream open\".*route=tcp:$RELAY_PORT" "$T/hub.log"
}

@test "an HTTP Host nobody claims does not fall back to the port claim" {
  run curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    --resolve "nobody.test:$RELAY_PORT:127.0.0.1" "http://nobody.test:$RELAY_PORT/"
  refute_output 200
  run grep -c "route=nobody.test" "$T/hub.log"
  [ "$output" -ge 1 ] # the hub looked it up by name and said no route
}
