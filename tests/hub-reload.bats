#!/usr/bin/env bats
# nexus-hub on SIGHUP re-reads its options (--config file included) and the files they name:
# a 100 MB download through relay -> hub -> tunnel keeps going, intact, while the hub takes
# a new secret; tunnels registering afterwards need the new secret; a configuration that
# does not load (a broken certificate, a bad option in the --config file) is refused with a
# log line and the old one keeps working; --allow-tcp-port from the config file changes.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  cp "$T/hub.secret" "$T/live.secret"
  cp "$T/hub.crt" "$T/live.crt"
  printf 'secret-file %s\ncert %s\nallow-tcp-port 7000\n' "$T/live.secret" "$T/live.crt" > "$T/hub.conf"
  HUB_PORT=$(free_port)
  MP=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --key "$T/hub.key" --config "$T/hub.conf" \
    --relay-socket "$T/hub.sock" --metrics "127.0.0.1:$MP" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_relay
  start_tunnel old --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
}

reloads() { # reloads RESULT: nexus_hub_reloads_total{result=RESULT}
  curl -sS --max-time 30 "http://127.0.0.1:$MP/metrics" |
    awk -v n="nexus_hub_reloads_total{result=\"$1\"}" '$1 == n { print $2 }'
}

@test "a 100 MB transfer keeps going across SIGHUP with a new secret; new tunnels need it" {
  head -c 100000000 /dev/urandom > "$T/big"
  curl -sS --max-time 300 --limit-rate 20M --resolve "app.test:$RELAY_PORT:127.0.0.1" \
    -o "$T/got" "http://app.test:$RELAY_PORT/big" &
  DL=$!
  for i in $(seq 600); do
    [ "$(stat -c %s "$T/got" 2>/dev/null || echo 0)" -gt 5000000 ] && break
    sleep 0.1
  done
  nexus-token keygen -t hs256 -o "$T/new.secret" >/dev/null
  cp "$T/new.secret" "$T/live.secret"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded"'
  got=$(stat -c %s "$T/got")
  echo "# bytes received when the hub reloaded: $got" >&3
  [ "$got" -lt 100000000 ]   # the reload happened mid-transfer

  # a tunnel with the old secret registering now is refused
  start_tunnel late --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub.log" 'msg="backend refused".*reason="stage0 token validation failed'
  # one with the new secret gets in
  start_tunnel fresh --secret-file "$T/new.secret" --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub.log" 'msg="backend registered".*backend=fresh'

  wait "$DL"
  [ "$(sha256sum < "$T/got")" = "$(sha256sum < "$T/big")" ]
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output svc
  [ "$(reloads ok)" = 1 ]
  kill -0 "$HUB_PID"
}

@test "a broken certificate or a bad option is refused, the old configuration stays" {
  echo 'not a certificate' > "$T/live.crt"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'level=error msg="configuration not reloaded, keeping the old one" error=.*live.crt'
  cp "$T/hub.crt" "$T/live.crt"
  printf 'secret-file %s\ncert %s\nallow-tcp-port 99999\n' "$T/live.secret" "$T/live.crt" > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration not reloaded, keeping the old one"' 2
  [ "$(reloads failed)" = 2 ]
  [ "$(reloads ok)" = 0 ]
  # the old configuration: the old secret still gets a new tunnel in, TLS still works
  start_tunnel second --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 2
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output svc
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output svc
}

@test "--allow-tcp-port from the --config file changes on SIGHUP" {
  start_tunnel t7001 --tcp-port 7001 --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub.log" 'msg="backend refused".*tcp:7001|msg="backend refused".*7001'
  printf 'secret-file %s\ncert %s\nallow-tcp-port 7001\n' "$T/live.secret" "$T/live.crt" > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded".*allow_tcp_ports=1'
  start_tunnel u7001 --tcp-port 7001 --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub.log" 'msg="backend registered".*backend=u7001.*routes=tcp:7001' 1 20
}
