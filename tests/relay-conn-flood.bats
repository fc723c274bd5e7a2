#!/usr/bin/env bats
# 5 000 "half heads" (an HTTP request line and half a Host header, then silence) from one
# address must not use up the relay's --max-conns (4 096) and delay everybody else until the
# header timeout: one source holds at most --max-conns-per-source (256) of them, the rest are
# closed at once. The attacker binds 127.0.0.2, the legitimate client uses 127.0.0.1.
load lib/common
load lib/tunnel

suite_setup() {
  start_web plain
  RELAY_PORT=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RELAY_PORT" --route "app.test=127.0.0.1:$WEB_PORT"
  RELAY_PID=$BG_PID
  wait_port "$RELAY_PORT"
}

@test "5 000 half heads from one address: another client is served at once" {
  bg flood "$HELPERS/conn-flood" --bind 127.0.0.2 --port "$RELAY_PORT" --count 5000 \
    --send 'GET / HTTP/1.1\r\nHost: app.te' --hold 60
  FLOOD_PID=$BG_PID
  wait_log "$T/flood.log" '^ready ' 1 60
  wait_log "$T/relay.log" 'msg="too many connections from one source' 1 15
  run curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{time_total}' \
    --resolve "app.test:$RELAY_PORT:127.0.0.1" "http://app.test:$RELAY_PORT/who"
  assert_success
  echo "# legitimate request during 5 000 half heads from one address: ${output#* } s" >&3
  echo "# attacker: $(head -1 "$T/flood.log")" >&3
  assert_output --regexp '^200 '
  grep -q 'level=warn msg="too many connections from one source, closing new ones" client=127.0.0.2:[0-9]* max_per_source=256 times=' "$T/relay.log"
  [ "$(grep -c 'from one source' "$T/relay.log")" -lt 100 ]
  kill "$FLOOD_PID"
}

@test "--max-conns-per-source takes a positive number" {
  run nexus-relay --listen 127.0.0.1:1 --route app.test=127.0.0.1:2 --max-conns-per-source 0
  assert_failure 2
  assert_output --partial -- '--max-conns-per-source'
}
