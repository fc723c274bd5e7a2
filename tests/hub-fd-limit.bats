#!/usr/bin/env bats
# The hub at its fd limit (prlimit --nofile=256) under 400 idle TCP connects to its backend
# port: it must not spin on a listener it cannot accept from, nor log every failed accept.
# It stops watching the listener while its fd reserve is in use, retries on a timer, logs
# once a second with a count, and keeps the reserve for the relay's handoffs: a tunnel that
# was registered before the flood serves during it, and a new one registers after it.
load lib/common
load lib/tunnel

# utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

suite_setup() {
  tunnel_keys
  start_web plain
  HUB_PORT=$(free_port)
  # Info level (no -v), as in production. The per-source cap is lifted so one address can
  # reach the fd limit: this suite is about fds (hub-preauth-flood.bats is about the cap).
  bg hub prlimit --nofile=256:256 nexus-hub --listen "127.0.0.1:$HUB_PORT" \
    --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" \
    --relay-socket "$T/hub.sock" --max-pending-per-source 1000
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_relay
  start_backend before --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
}

@test "at the fd limit the hub idles, logs a little, and still serves" {
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain

  bg flood "$HELPERS/conn-flood" --port "$HUB_PORT" --count 400 --hold 60
  FLOOD_PID=$BG_PID
  wait_log "$T/flood.log" '^ready ' 1 30
  wait_log "$T/hub.log" 'msg="not accepting for now".*listener=backend' 1 15
  local t0 s0 t1 s1
  t0=$(cpu_ticks "$HUB_PID"); s0=$(stat -c %s "$T/hub.log")
  sleep 5
  t1=$(cpu_ticks "$HUB_PID"); s1=$(stat -c %s "$T/hub.log")
  local hz; hz=$(getconf CLK_TCK)
  echo "# at the fd limit, 5 s: $((t1 - t0)) CPU ticks of $((5 * hz)) ($(( (t1 - t0) * 100 / (5 * hz) )) % of a core), $((s1 - s0)) bytes of log" >&3
  echo "# $(cat "$T/flood.log" | head -1)" >&3
  # A spinning hub burns a whole core and writes megabytes; this one must do neither.
  [ $((t1 - t0)) -lt $((5 * hz / 2)) ]
  [ $((s1 - s0)) -lt 10240 ]

  # The reserve is for work already admitted: the registered tunnel serves meanwhile.
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain

  kill "$FLOOD_PID"
  wait_log "$T/flood.log" '^done ' 1 15
  # After the flood: a new tunnel gets in and serves.
  start_backend after --hostname other.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 2
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
  # the hub never gave up: same process, no crash
  kill -0 "$HUB_PID"
  run grep -c 'msg="accept failed"' "$T/hub.log"
  assert_output 0
}

@test "end-user streams that fill the hub's fds: further handoffs are busy, logged once a second" {
  # Streams through the relay each hold an fd in the hub; the reserve cannot stop them (the
  # relay passes the fd in, the kernel fails to install it once the table is full). Each
  # handoff that arrives without its fd is answered busy and counted, not logged one by one.
  bg flood2 "$HELPERS/conn-flood" --port "$RELAY_PORT" --bind 127.0.0.2 --count 400 --hold 60 \
    --send 'GET /slow?n=100000000 HTTP/1.1\r\nHost: app.test\r\n\r\n'
  FLOOD_PID=$BG_PID
  wait_log "$T/flood2.log" '^ready ' 1 30
  wait_log "$T/hub.log" 'msg="not accepting for now".*listener=handoff' 1 30
  local t0 s0 t1 s1 hz
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$HUB_PID"); s0=$(stat -c %s "$T/hub.log")
  sleep 5
  t1=$(cpu_ticks "$HUB_PID"); s1=$(stat -c %s "$T/hub.log")
  echo "# streams filling the hub's fds, 5 s: $((t1 - t0)) CPU ticks of $((5 * hz)), $((s1 - s0)) bytes of log" >&3
  echo "# $(head -1 "$T/flood2.log"); handoff-shortage lines: $(grep -c 'listener=handoff' "$T/hub.log")" >&3
  [ $((s1 - s0)) -lt 10240 ]
  # an fd shortage is ours, not a malformed message from the relay
  run grep -c 'msg="bad handoff message"' "$T/hub.log"
  assert_output 0
  kill "$FLOOD_PID"
  wait_log "$T/flood2.log" '^done ' 1 15
  # Once the flood's streams are gone the hub serves again (same process).
  local i ok=
  for i in $(seq 1 60); do
    if relay_curl "http://app.test:$RELAY_PORT/who" 2>/dev/null | grep -qx plain; then ok=1; break; fi
    sleep 0.5
  done
  [ -n "$ok" ]
  kill -0 "$HUB_PID"
}
