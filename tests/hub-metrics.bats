#!/usr/bin/env bats
# nexus-hub --metrics ADDR: GET /metrics is Prometheus text that `promtool check metrics`
# accepts and whose counters move while traffic flows (sessions, streams, bytes each way,
# per --backends name, handshake failures by reason, handoff failures); GET /backends lists
# the connected backends as JSON; SIGUSR1 logs one status line; -v logs one line per stream
# with its route, client, bytes, duration and close reason.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  head -c 300000 /dev/urandom > "$T/blob"
  head -c 20000000 /dev/urandom > "$T/big"
  nexus-token keygen -t es256 -o "$T/edge-1.key" --backends-line edge-1 app.test > "$T/backends"
  MP=$(free_port)
  start_hub --backends "$T/backends" --metrics "127.0.0.1:$MP"
  wait_log "$T/hub.log" "msg=metrics url=http://127.0.0.1:$MP/metrics"
  start_relay
  bg tunnel-edge-1 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" \
    --servername localhost --cafile "$T/hub.crt" --key "$T/edge-1.key" --name edge-1 \
    --hostname app.test --to "127.0.0.1:$WEB_PORT" -v
  start_tunnel dev --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 2
}

metric() { # metric NAME[{labels}]: its value from $T/m
  awk -v n="$1" '$1 == n { print $2 }' "$T/m"
}

scrape() {
  curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"
}

@test "GET /metrics: promtool accepts it, the counters follow the traffic" {
  command -v promtool >/dev/null || skip "promtool (Debian package prometheus) not installed"
  scrape
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric nexus_hub_sessions)" = 2 ]
  [ "$(metric nexus_hub_sessions_total)" = 2 ]
  [ "$(metric 'nexus_hub_backend_sessions{backend="edge-1"}')" = 1 ]
  [ "$(metric nexus_hub_streams_total)" = 0 ]
  [ "$(metric 'nexus_hub_bytes_total{direction="to_user"}')" = 0 ]

  # a slow download holds a stream open while we look
  curl -sS --max-time 120 --limit-rate 2M --cacert "$T/web.crt" \
    --resolve "app.test:$RELAY_PORT:127.0.0.1" -o "$T/got-big" "http://app.test:$RELAY_PORT/big" &
  DL=$!
  for i in $(seq 200); do
    scrape
    [ "$(metric nexus_hub_streams)" = 1 ] && [ "$(metric 'nexus_hub_bytes_total{direction="to_user"}')" -gt 0 ] && break
    sleep 0.1
  done
  [ "$(metric nexus_hub_streams)" = 1 ]
  [ "$(metric 'nexus_hub_backend_streams{backend="edge-1"}')" = 1 ]
  mid=$(metric 'nexus_hub_bytes_total{direction="to_user"}')
  echo "# to_user mid-transfer: $mid" >&3
  [ "$mid" -gt 0 ]
  run promtool check metrics < "$T/m"
  assert_success
  curl -sS --max-time 30 -o "$T/b" "http://127.0.0.1:$MP/backends"
  run jq -r '.[] | select(.name == "edge-1") | "\(.streams) \(.hostnames | join(",")) \(.kid != null) \(.since | test("^20[0-9-]+T"))"' "$T/b"
  assert_output "1 app.test true true"
  run jq -r '.[] | select(.name == null) | "\(.sub) \(.hostnames | join(",")) \(.streams) \(.weight)"' "$T/b"
  assert_output "dev other.test 0 1"
  wait "$DL"
  cmp "$T/got-big" "$T/big"

  relay_curl -o /dev/null -T "$T/blob" "http://other.test:$RELAY_PORT/upload"
  tls0=$(metric 'nexus_hub_handshake_failures_total{reason="tls"}')  # wait_port's probe
  run curl -sS --max-time 30 -H 'Host: nowhere.test' "http://127.0.0.1:$RELAY_PORT/"  # no route
  curl -sk --max-time 30 -o /dev/null "https://127.0.0.1:$HUB_PORT/connect" || true  # no upgrade
  printf 'not tls at all\r\n\r\n' | timeout 10 python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.sendall(sys.stdin.buffer.read())
s.settimeout(8)
try: s.recv(100)
except Exception: pass' "$HUB_PORT"
  wait_log "$T/hub.log" 'msg="backend connection closed".*reason="tls handshake'
  wait_log "$T/hub.log" 'msg="stream closed".*route=other.test'
  scrape
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric nexus_hub_streams)" = 0 ]
  [ "$(metric nexus_hub_streams_total)" = 2 ]
  [ "$(metric 'nexus_hub_bytes_total{direction="to_user"}')" -gt 20000000 ]
  [ "$(metric 'nexus_hub_bytes_total{direction="to_backend"}')" -gt 300000 ]
  [ "$(metric 'nexus_hub_handoff_failures_total{reason="no_route"}')" = 1 ]
  [ "$(metric 'nexus_hub_handshake_failures_total{reason="tls"}')" = $((tls0 + 1)) ]
  [ "$(metric 'nexus_hub_handshake_failures_total{reason="upgrade"}')" = 1 ]
  [ "$(metric nexus_hub_pending_connections)" = 0 ]

  run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/"
  assert_output 404
  run curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$MP/backends"
  assert_output 405
}

@test "-v: one line per stream with route, client, bytes each way, duration and reason" {
  relay_curl -o "$T/got" "http://app.test:$RELAY_PORT/blob"
  cmp "$T/got" "$T/blob"
  wait_log "$T/hub.log" 'msg="stream closed" .*route=app.test client=127\.0\.0\.1:[0-9]+ up=[0-9]+ down=[0-9]{6,} duration=[0-9.a-z]+ reason=[a-z_]+'
}

@test "SIGUSR1 logs one status line" {
  kill -USR1 "$HUB_PID"
  wait_log "$T/hub.log" 'msg=status backends=2 streams=0 .*streams_total=[0-9]+ bytes_to_backend=[0-9]+ bytes_to_user=[0-9]+ handshake_failures='
  kill -0 "$HUB_PID"
}

@test "--metrics: a bad address is a usage error, one in use a runtime failure" {
  run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/x.sock" --metrics 9101
  assert_failure 2
  assert_line --index 0 --partial "--metrics: bad address '9101'"
  P=$(free_port)
  run nexus-hub --listen "127.0.0.1:$P" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/y.sock" --metrics "127.0.0.1:$MP"
  assert_failure 1
  assert_output --partial "--metrics 127.0.0.1:$MP"
}
