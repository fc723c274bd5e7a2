#!/usr/bin/env bats
# SIGUSR1 makes nexus-tunnel log one status line: session state, streams open and in total,
# refusals, bytes each way, sessions and reconnects. Checked as traffic flows, with a stream
# held open (a raw TCP port claim), a refused stream, and a hub restart.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  head -c 100000 /dev/urandom > "$T/blob"
}

status() { # status N: send SIGUSR1, wait for the Nth status line, print it
  kill -USR1 "$TUN"
  wait_log "$T/tunnel-dev.log" 'status: ' "$1"
  grep 'status: ' "$T/tunnel-dev.log" | sed -n "$1p"
}

@test "SIGUSR1: one status line with streams, bytes, refusals and reconnects" {
  P2=$(free_port)
  start_hub --allow-tcp-port "$P2"
  start_relay --listen "127.0.0.1:$P2"
  wait_port "$P2"
  start_tunnel dev --hostname app.test --hostname other.test --tcp-port "$P2" \
    --map "app.test=127.0.0.1:$WEB_PORT" --map "$P2=127.0.0.1:$WEB_PORT"
  TUN=$BG_PID
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving '
  run status 1
  assert_output --regexp '^nexus-tunnel: status: session=serving for=[0-9.]+m?s streams=0 streams_total=0 refused=0 bytes_from_hub=0 bytes_to_hub=0 sessions=1 reconnects=0 reloads=0$'

  relay_curl -o "$T/got" "http://app.test:$RELAY_PORT/blob"
  cmp "$T/got" "$T/blob"
  run relay_curl "http://other.test:$RELAY_PORT/who"   # no target: refused
  # a stream held open: a silent raw TCP client on the claimed port
  exec 5<>"/dev/tcp/127.0.0.1/$P2"
  wait_log "$T/tunnel-dev.log" "stream [0-9a-f-]+: tcp:$P2 from "
  run status 2
  assert_output --regexp ' streams=1 streams_total=2 refused=1 '
  down=$(sed -n 's/.* bytes_to_hub=\([0-9]*\).*/\1/p' <<<"$output")
  up=$(sed -n 's/.* bytes_from_hub=\([0-9]*\).*/\1/p' <<<"$output")
  [ "$down" -gt 100000 ]   # the blob and its headers, and the refusal's 502
  [ "$up" -gt 0 ]
  exec 5>&-

  # the hub goes away and comes back on the same port: one reconnect, a second session
  kill -TERM "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  bg hub2 nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" --allow-tcp-port "$P2" -v
  wait_log "$T/tunnel-dev.log" '^nexus-tunnel: serving ' 2 30
  run status 3
  assert_output --regexp ' sessions=2 reconnects=[1-9][0-9]* '
  assert_output --regexp 'session=serving for=[0-9.]+m?s streams=0 '
}
