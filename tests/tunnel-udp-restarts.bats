#!/usr/bin/env bats
# UDP across restarts: the hub holds a relay's UDP socket only while that relay is
# connected, so a restarted relay can bind its port again; a restarted hub gets the socket
# again from the relay that is still running, and the reconnected tunnel serves the port.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  bg echo "$HELPERS/udp-echo"
  wait_log "$T/echo.log" '^listening '
  ECHO_PORT=$(awk '/^listening /{print $2; exit}' "$T/echo.log")
  UDP_PORT=$(free_port)
  start_hub --allow-udp-port "$UDP_PORT"
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
  start_tunnel udp --udp-port "$UDP_PORT=127.0.0.1:$ECHO_PORT"
  wait_backends 1
  run "$HELPERS/udp-client" --port "$UDP_PORT" --count 10
  assert_output 'sent 10 received 10 bad 0'
}

stop() { # PID: SIGTERM, wait until it is gone
  kill -TERM "$1"
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

echo_ok() { # retried: the new path may take a moment to be complete
  for _ in $(seq 20); do
    run "$HELPERS/udp-client" --port "$UDP_PORT" --count 10 --timeout 2
    [ "$status" -eq 0 ] && return 0
    sleep 0.5
  done
  echo "$output"
  return 1
}

@test "a restarted relay binds its UDP port again and the flows come back" {
  stop "$RELAY_PID"
  wait_log "$T/hub.log" 'msg="udp listener released: its relay is gone" route=udp:'"$UDP_PORT"
  mv "$T/relay.log" "$T/relay-1.log"
  start_relay --listen-udp "127.0.0.1:$UDP_PORT"
  wait_log "$T/relay.log" 'msg="udp listener handed to the hub"'
  echo_ok
}

@test "a restarted hub gets the UDP socket from the running relay" {
  stop "$HUB_PID"
  mv "$T/hub.log" "$T/hub-1.log"
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v --allow-udp-port "$UDP_PORT"
  HUB_PID=$BG_PID
  wait_log "$T/hub.log" 'msg="udp listener taken" route=udp:'"$UDP_PORT" 1 20
  wait_backends 1
  echo_ok
  kill -0 "$RELAY_PID"
}
