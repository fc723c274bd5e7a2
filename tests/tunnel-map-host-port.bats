#!/usr/bin/env bats
# --map HOSTNAME:PORT=TARGET: one hostname to different local services by the relay port the
# end user came in on (the Nexus Proxy client can do this: app on 443 and on 80), through
# the real relay (two ports), hub and tunnel. The "serving" line lists every mapping.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web first; FIRST=$WEB_PORT
  start_web second; SECOND=$WEB_PORT
  start_web fallback; FALLBACK=$WEB_PORT
}

# curl_port PORT HOST PATH: plain HTTP to the relay port, HOST resolved to 127.0.0.1
curl_port() {
  curl -sS --max-time 60 --resolve "$2:$1:127.0.0.1" "http://$2:$1$3"
}

@test "one hostname, two relay ports, two local services; the startup line lists them all" {
  start_hub
  RELAY_PORT=$(free_port); P2=$(free_port)
  start_relay --listen "127.0.0.1:$P2"
  wait_port "$P2"
  start_tunnel dev --hostname app.test --hostname other.test \
    --map "app.test:$RELAY_PORT=127.0.0.1:$FIRST" --map "App.Test:$P2=127.0.0.1:$SECOND" \
    --to "127.0.0.1:$FALLBACK"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving '
  run grep 'serving ' "$T/tunnel-dev.log"
  assert_output "nexus-tunnel: serving app.test, other.test via wss://127.0.0.1:$HUB_PORT/connect: app.test:$RELAY_PORT → 127.0.0.1:$FIRST, app.test:$P2 → 127.0.0.1:$SECOND, otherwise → 127.0.0.1:$FALLBACK"
  run curl_port "$RELAY_PORT" app.test /who
  assert_output first
  run curl_port "$P2" app.test /who
  assert_output second
  # another name on either port: the default
  run curl_port "$RELAY_PORT" other.test /who
  assert_output fallback
  run curl_port "$P2" other.test /who
  assert_output fallback
}

@test "a port with no mapping and no --to: the stream is refused, the others keep working" {
  start_hub
  RELAY_PORT=$(free_port); P2=$(free_port)
  start_relay --listen "127.0.0.1:$P2"
  wait_port "$P2"
  start_tunnel dev --hostname app.test --map "app.test:$RELAY_PORT=127.0.0.1:$FIRST"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" "otherwise → refused"
  run curl_port "$P2" app.test /who
  refute_output --partial first  # nothing local answered (the hub may answer an error)
  wait_log "$T/tunnel-dev.log" "app.test \\(port $P2\\): no target configured"
  run curl_port "$RELAY_PORT" app.test /who
  assert_output first
}

@test "bad --map keys are usage errors" {
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --map 'app.test:http=127.0.0.1:80'
  assert_failure 2
  assert_line --index 0 --partial "--map app.test:http=127.0.0.1:80: bad relay port"
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --map 'app.test:0=127.0.0.1:80'
  assert_failure 2
}
