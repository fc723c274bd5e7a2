#!/usr/bin/env bats
# nexus-hub --workers N: live backend sessions are spread over N threads, each serving its
# sessions' streams, while the route table stays one: the relay's handoffs reach the worker
# that holds the route, WRR and --exclusive-hostnames see every worker's sessions, a reload
# reaches them all. 100 MB moves intact each way over 3 workers; --workers 1 keeps everything
# on the main thread; a mesh hub says why it does not use workers.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  MP=$(free_port)
  start_hub --workers 3 --metrics "127.0.0.1:$MP"
  wait_log "$T/hub.log" 'msg=listening .*workers=3'
  start_relay
}

# restart_hub ARGS...: a new hub on the same relay socket (the old log kept aside)
restart_hub() {
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  mv "$T/hub.log" "$T/hub-$HUB_PID.log"
  start_hub "$@"
}

# served_again: the relay, which redials the new hub's socket on its own, serves app.test
served_again() {
  for i in $(seq 100); do
    relay_curl "http://app.test:$RELAY_PORT/who" 2>/dev/null | grep -qx svc && return 0
    sleep 0.2
  done
  return 1
}

# workers_of NAME: the sorted, distinct worker= values of NAME's registered sessions
workers_of() {
  grep "msg=\"backend registered\".*backend=$1 " "$T/hub.log" | grep -oE 'worker=[0-9]+' |
    sort -u | tr '\n' ' '
}

@test "3 connections land on 3 workers; every one serves streams; /backends and /metrics say so" {
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 3
  run workers_of many
  assert_output 'worker=1 worker=2 worker=3 '
  # the threads carry names for top -H and ps -L
  run cat /proc/"$HUB_PID"/task/*/comm
  assert_line nexus-hub
  assert_line nexus-hub/w3
  # the README's line, as written (other suites' hubs may be listed too)
  run ps -L -o tid,comm,pcpu -p "$(pidof nexus-hub)"
  assert_success
  assert_output --regexp '[0-9]+ nexus-hub/w3 '
  streams_spread_over 3
  run curl -sS --max-time 10 "http://127.0.0.1:$MP/backends"
  assert_success
  [ "$(echo "$output" | jq -r '[.[].worker] | sort | map(tostring) | join(",")')" = 1,2,3 ]
  curl -sS --max-time 10 -o "$T/m" "http://127.0.0.1:$MP/metrics"
  grep -qx 'nexus_hub_workers 3' "$T/m"
  grep -qx 'nexus_hub_sessions 3' "$T/m"
  # the stream counters add up the workers' own
  [ "$(awk '$1 == "nexus_hub_streams_total" {print $2}' "$T/m")" -ge 30 ]
}

@test "100 MB each way, intact, over 3 workers beside other streams" {
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 3
  bulk_both_ways
}

@test "a tunnel killed on a worker leaves no route behind; its restart is served again" {
  start_tunnel one --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  kill -9 "$BG_PID"
  wait_log "$T/hub.log" 'msg="backend session ended"' 1 20
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 502
  start_tunnel one --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 2
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output svc
}

@test "SIGHUP with a new secret reaches sessions on every worker; new tunnels need it" {
  echo 'workers 3' > "$T/hub.conf"
  restart_hub --config "$T/hub.conf"
  start_tunnel many --connections 3 --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 3
  served_again
  cp "$T/hub.secret" "$T/old.secret"
  nexus-token keygen -t hs256 -o "$T/hub.secret" --force >/dev/null
  echo 'workers 2' > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded"'
  # a changed --workers is said to need a restart; the rest is reloaded
  grep -q 'msg="not reloaded: needs a restart" option=--workers now=3 wanted=2' "$T/hub.log"
  # the live sessions keep serving (their token was checked when they came)
  for i in $(seq 10); do
    run relay_curl "http://app.test:$RELAY_PORT/who"
    assert_output svc
  done
  bg tunnel-old nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/old.secret" --name old --hostname other.test \
    --to "127.0.0.1:$WEB_PORT"
  rc=0; wait "$BG_PID" || rc=$?
  [ "$rc" = 1 ]
  start_tunnel new --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub.log" 'msg="backend registered".*backend=new ' 1 20
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output svc
}

@test "--exclusive-hostnames sees a name held on another worker" {
  nexus-token keygen -t es256 -o "$T/a.key" --backends-line alice app.test > "$T/backends"
  nexus-token keygen -t es256 -o "$T/b.key" --backends-line bob app.test >> "$T/backends"
  restart_hub --workers 2 --backends "$T/backends" --exclusive-hostnames
  for who in a b; do
    bg "tunnel-$who" nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" \
      --servername localhost --cafile "$T/hub.crt" --key "$T/$who.key" --hostname app.test \
      --to "127.0.0.1:$WEB_PORT"
    [ "$who" = a ] && wait_backends 1
  done
  rc=0; wait "$BG_PID" || rc=$?
  [ "$rc" = 1 ]
  grep -q 'msg="hostname held by another backend".*backend=bob held_by=alice' "$T/hub.log"
  [ "$(grep -c 'msg="backend registered"' "$T/hub.log")" = 1 ]
  served_again
}

@test "--workers 1: sessions stay on the main thread" {
  restart_hub --workers 1
  wait_log "$T/hub.log" 'msg=listening .*workers=0'
  start_tunnel one --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  run workers_of one
  assert_output 'worker=0 '
  served_again
}

@test "a mesh hub says it keeps its sessions on the main thread" {
  nexus-token keygen -t hs256 -o "$T/peer.secret" >/dev/null
  restart_hub --workers 4 --peer-secret-file "$T/peer.secret"
  wait_log "$T/hub.log" 'msg="workers not used" workers=4 reason="mesh'
  wait_log "$T/hub.log" 'msg=listening .*workers=0'
  start_tunnel one --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  served_again
}

@test "--workers: 0, over 256 or not a number is a usage error" {
  for v in 0 257 x; do
    run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
      --secret-file "$T/hub.secret" --workers "$v"
    assert_failure 2
    assert_line --index 0 --partial 'nexus-hub: --workers: '
    assert_line --index 1 "try 'nexus-hub --help'"
  done
}
