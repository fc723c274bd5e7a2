#!/usr/bin/env bats
# nexus-tunnel --connections N: N sessions to the hub, all claiming the same names; the hub
# spreads new streams over them, so one tunnel's traffic is not bound to one TLS stream.
# 100 MB moves intact each way over 3 connections while other streams go on; the metrics
# count the sessions; a quick-start name the hub assigned is the one every connection
# claims; SIGTERM ends them all; after a hub restart every connection comes back.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  nexus-token keygen -t es256 -o "$T/q.key" --backends-line q '*.dev.test' > "$T/backends"
  start_hub --backends "$T/backends"
  start_relay
}

@test "3 connections: the hub registers 3 sessions and spreads streams over them" {
  MP=$(free_port)
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT" \
    --metrics "127.0.0.1:$MP"
  wait_backends 3
  [ "$(grep -c 'msg="backend registered".*backend=many .*routes=app.test' "$T/hub.log")" = 3 ]
  # one "serving" line for the user, the others at debug level
  [ "$(grep -c '^nexus-tunnel: serving' "$T/tunnel-many.log")" = 1 ]
  streams_spread_over 3
  run curl -sS "http://127.0.0.1:$MP/metrics"
  assert_line 'nexus_tunnel_session_up 3'
  assert_line 'nexus_tunnel_streams_total 30'
}

@test "100 MB each way, intact, over 3 connections beside other streams" {
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 3
  bulk_both_ways
}

@test "quick start: every connection claims the name the hub assigned; SIGTERM ends them all" {
  bg quick nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/q.key" --random-name --connections 2 --to "127.0.0.1:$WEB_PORT"
  QPID=$BG_PID
  wait_log "$T/quick.log" 'serving https://[0-9a-f]{12}\.dev\.test/' 1 30
  name=$(grep -oE '[0-9a-f]{12}\.dev\.test' "$T/quick.log" | head -1)
  wait_backends 2
  [ "$(grep -c "msg=\"backend registered\".*routes=$name" "$T/hub.log")" = 2 ]
  run curl -sS --max-time 30 --resolve "$name:$RELAY_PORT:127.0.0.1" "http://$name:$RELAY_PORT/who"
  assert_output svc
  kill -TERM "$QPID"
  wait "$QPID"
  wait_log "$T/hub.log" 'msg="backend session ended"' 2 20
}

@test "a hub restart: every connection comes back on its own" {
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 3
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  mv "$T/hub.log" "$T/hub-1.log"
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_log "$T/hub.log" 'msg="backend registered".*backend=many' 3 60
  for i in $(seq 100); do
    relay_curl "http://app.test:$RELAY_PORT/who" 2>/dev/null | grep -qx svc && break
    sleep 0.2
  done
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output svc
}

@test "--connections: 0 or over 64 is a usage error" {
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname a.test --to 127.0.0.1:1 --connections 0
  assert_failure 2
  assert_line --index 0 --partial '--connections: 0 is out of range 1..64'
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname a.test --to 127.0.0.1:1 --connections 65
  assert_failure 2
}
