#!/usr/bin/env bats
# nexus-relay --metrics ADDR: GET /metrics is Prometheus text that `promtool check metrics`
# accepts; connections by outcome and by sniff result, bytes on --route connections (moving
# while a download flows), the hub link, reloads; a bad address is a usage error, one in
# use a runtime failure.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one
  start_hub
  MP=$(free_port)
  start_relay --route "app.test=127.0.0.1:$WEB_PORT" --metrics "127.0.0.1:$MP"
  wait_log "$T/relay.log" "msg=metrics url=http://127.0.0.1:$MP/metrics"
}

metric() { # metric NAME{LABELS}: its value in $T/m
  awk -v n="$1" '$1 == n { print $2 }' "$T/m"
}

scrape() { curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"; }

@test "GET /metrics: promtool accepts it; outcomes, sniff results and the hub link follow the traffic" {
  start_tunnel edge --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl -o /dev/null -w '%{http_code}' "http://nowhere.test:$RELAY_PORT/" --resolve "nowhere.test:$RELAY_PORT:127.0.0.1"
  assert_output 502
  wait_log "$T/relay.log" 'outcome=no-route'
  scrape
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric 'nexus_relay_connections_total{outcome="ok"}')" -ge 1 ]
  [ "$(metric 'nexus_relay_connections_total{outcome="handed-off"}')" -ge 1 ]
  [ "$(metric 'nexus_relay_connections_total{outcome="no-route"}')" = 1 ]
  [ "$(metric 'nexus_relay_sniffed_total{proto="http"}')" -ge 3 ]
  [ "$(metric 'nexus_relay_hub_up')" = 1 ]
  [ "$(metric 'nexus_relay_bytes_total{direction="down"}')" -gt 0 ]
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'msg="configuration reloaded"'
  scrape
  [ "$(metric 'nexus_relay_reloads_total{result="ok"}')" = 1 ]
  kill "$HUB_PID"
  for _ in $(seq 100); do
    scrape
    [ "$(metric 'nexus_relay_hub_up')" = 0 ] && break
    sleep 0.1
  done
  [ "$(metric 'nexus_relay_hub_up')" = 0 ]
}

@test "bytes on a --route move while a download flows" {
  head -c 30000000 /dev/urandom > "$T/big"
  relay_curl --limit-rate 5M -o "$T/got" "http://app.test:$RELAY_PORT/big" &
  DL=$!
  for _ in $(seq 300); do
    [ "$(stat -c %s "$T/got" 2>/dev/null || echo 0)" -gt 2000000 ] && break
    sleep 0.1
  done
  scrape
  a=$(metric 'nexus_relay_bytes_total{direction="down"}')
  [ "$(metric nexus_relay_routed_connections)" = 1 ]
  for _ in $(seq 200); do
    sleep 0.1
    scrape
    b=$(metric 'nexus_relay_bytes_total{direction="down"}')
    [ "$b" -gt "$a" ] && break
  done
  echo "# down: $a, then $b while the download still ran" >&3
  [ "$b" -gt "$a" ]
  wait "$DL"
  scrape
  [ "$(metric 'nexus_relay_bytes_total{direction="down"}')" -ge 30000000 ]
  [ "$(metric nexus_relay_routed_connections)" = 0 ]
}

@test "--metrics: a bad address is a usage error, one in use a runtime failure" {
  run nexus-relay --listen 127.0.0.1:1 --route a.test=127.0.0.1:1 --metrics 9101
  assert_failure 2
  assert_line --index 0 --partial "--metrics: bad address '9101'"
  run nexus-relay --listen "127.0.0.1:$(free_port)" --route a.test=127.0.0.1:1 --metrics "127.0.0.1:$MP"
  assert_failure 1
  assert_output --partial "127.0.0.1:$MP"
}
