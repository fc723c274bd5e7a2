#!/usr/bin/env bats
# nexus-tunnel --metrics ADDR: GET /metrics answers Prometheus text that `promtool check
# metrics` accepts, and its counters move as traffic flows (streams, bytes each way,
# refusals); anything but GET /metrics is 404 / 405.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  head -c 300000 /dev/urandom > "$T/blob"
}

metric() { # metric NAME[{labels}]: its value from $T/m
  awk -v n="$1" '$1 == n { print $2 }' "$T/m"
}

@test "--metrics: promtool accepts it, the counters follow the traffic" {
  command -v promtool >/dev/null || skip "promtool (Debian package prometheus) not installed"
  MP=$(free_port)
  start_hub
  start_relay
  start_tunnel dev --hostname app.test --hostname other.test \
    --map "app.test=127.0.0.1:$WEB_PORT" --metrics "127.0.0.1:$MP"
  wait_log "$T/tunnel-dev.log" "metrics on http://127.0.0.1:$MP/metrics"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" '^nexus-tunnel: serving '
  curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric nexus_tunnel_session_up)" = 1 ]
  [ "$(metric nexus_tunnel_sessions_total)" = 1 ]
  [ "$(metric nexus_tunnel_streams_total)" = 0 ]
  [ "$(metric 'nexus_tunnel_bytes_total{direction="to_hub"}')" = 0 ]

  relay_curl -o "$T/got" "http://app.test:$RELAY_PORT/blob"
  cmp "$T/got" "$T/blob"
  relay_curl -o /dev/null -T "$T/blob" "http://app.test:$RELAY_PORT/upload"
  run relay_curl "http://other.test:$RELAY_PORT/who"   # no target: a refusal
  curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric nexus_tunnel_streams_total)" = 2 ]
  [ "$(metric nexus_tunnel_stream_refusals_total)" = 1 ]
  [ "$(metric 'nexus_tunnel_bytes_total{direction="to_hub"}')" -gt 300000 ]
  [ "$(metric 'nexus_tunnel_bytes_total{direction="from_hub"}')" -gt 300000 ]
  [ "$(metric nexus_tunnel_reconnects_total)" = 0 ]
  run grep -c '^# TYPE nexus_tunnel_' "$T/m"
  assert_output 8

  run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/"
  assert_output 404
  run curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MP/metrics"
  assert_output 405
}

@test "--metrics on an address in use is a runtime failure, a bad one a usage error" {
  MP=$(free_port)
  python3 -c 'import socket,sys,time;s=socket.socket();s.bind(("127.0.0.1",int(sys.argv[1])));s.listen();time.sleep(60)' "$MP" &
  HOLD=$!
  NX_PIDS+=("$HOLD")
  wait_port "$MP"
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:1 --metrics "127.0.0.1:$MP"
  assert_failure 1
  assert_output --partial "--metrics 127.0.0.1:$MP"
  [ "${#lines[@]}" -eq 1 ]
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:1 --metrics 9101
  assert_failure 2
  assert_line --index 0 --partial "--metrics: bad address '9101'"
}
