#!/usr/bin/env bats
# An end user who hangs up is passed on to a backend that did not negotiate half-close
# (a Nexus Proxy backend): the hub sends disconnect, the backend closes its connection to
# the local service, and the hub closes the end user's socket — no CLOSE_WAIT left behind,
# no stream held until --idle-timeout. Also while the stream has no credits left.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web ka --keep-alive; KA_PORT=$WEB_PORT
  start_hub
  start_relay
  start_fake plain --hostname ka.test --target "127.0.0.1:$KA_PORT"
  wait_backends 1
}

# sockets in state $1 on 127.0.0.1 with local port $2 ("sport") or peer port ("dport")
count_sockets() {
  ss -Htan state "$1" "( $3 = :$2 )" | wc -l
}

@test "50 keep-alive requests leave no CLOSE_WAIT socket and no open stream in the hub" {
  for i in $(seq 50); do
    curl -sS --max-time 30 --resolve "ka.test:$RELAY_PORT:127.0.0.1" \
      -o /dev/null -w '%{http_code}\n' "http://ka.test:$RELAY_PORT/who"
  done > "$T/codes"
  run sort -u "$T/codes"
  assert_output 200
  # curl sent FIN after each reply; the hub told the backend and closed its side
  wait_log "$T/hub.log" 'msg="stream closed"' 50 20
  sleep 2
  run count_sockets close-wait "$RELAY_PORT" sport
  assert_output 0
  run grep -c 'msg="stream open"' "$T/hub.log"
  assert_output 50
  run grep -c 'msg="stream closed"' "$T/hub.log"
  assert_output 50
  # and the backend let go of the local service: no connection to it stays established
  run count_sockets established "$KA_PORT" dport
  assert_output 0
  run grep -c stream-end "$T/backend-plain.log"
  assert_output 50
}

@test "an end user hanging up while its stream has no credits is noticed, not held" {
  # a backend whose local service takes nothing more: it granted 64 frames and no more
  start_fake stuck --hostname stuck.test --target "127.0.0.1:$KA_PORT" --grant-once
  wait_backends 2
  # 100 small writes: the hub sends 64 frames, then stops reading with the rest unread in
  # its socket; then the end user hangs up (its FIN arrives: the window is open)
  python3 - "$RELAY_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PUT /upload HTTP/1.1\r\nHost: stuck.test\r\nContent-Length: 999999999\r\n\r\n")
for i in range(100):
    s.sendall(b"x" * 1024)
    time.sleep(0.03)
s.close()
PY
  # noticed within the hub's short grace (5 s), far below --idle-timeout (5 min)
  wait_log "$T/hub.log" 'msg="end user hung up, backend not reading"' 1 30
  wait_log "$T/hub.log" 'msg="stream closed".*route=stuck.test' 1 10
  run count_sockets close-wait "$RELAY_PORT" sport
  assert_output 0
  run grep -c 'msg="stream idle timeout"' "$T/hub.log"
  assert_output 0
}
