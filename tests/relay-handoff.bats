#!/usr/bin/env bats
# nexus-relay --hub: the client's fd and the bytes already read really reach the hub
# (bin/tests/handoff-sink stands in for nexus-hub), the hub's answer reaches the client, and
# a hub that is down or restarts never leaves a client hanging nor needs a relay restart.
load lib/common
load lib/relay

sink() {
  bg sink "$NEXUS_TESTBIN/handoff-sink" "$T/hub.sock"
  SINK_PID=$BG_PID
  wait_file "$T/hub.sock"
}

@test "HTTP: the fd and the whole head reach the hub, the hub answers on the client's socket" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  run curl -sS --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/path"
  assert_success
  # sink:KEY:PRELUDE_LEN — the prelude is curl's whole request head
  assert_output --regexp '^sink:web\.test:[0-9]+$'
  len=${output##*:}
  assert_file_contains "$T/sink.log" "key=web.test port=$RP client=127.0.0.1:"
  assert_file_contains "$T/sink.log" "tls=0 prelude=$len first=474554202f706174"
  wait_log "$T/relay.log" "outcome=handed-off"
}

@test "TLS: a captured ClientHello is handed over byte for byte with is_tls set" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  size=$(stat -c %s "$NEXUS_SRC/tests/data/clienthello-sni.bin")
  run sh -c "python3 '$RELAY_PY' $RP --send-file '$NEXUS_SRC/tests/data/clienthello-sni.bin' --chunk 7 2>/dev/null"
  assert_output "sink:app.test:$size"
  assert_file_contains "$T/sink.log" "key=app.test port=$RP client=127.0.0.1:"
  assert_file_contains "$T/sink.log" "tls=1 prelude=$size first=16030101"
}

@test "TLS: a ClientHello re-framed into 7-byte records and dripped 5 bytes at a time arrives whole" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  python3 -c '
import sys
d=open(sys.argv[1],"rb").read()[5:]
out=b"".join(b"\x16\x03\x01"+len(d[i:i+7]).to_bytes(2,"big")+d[i:i+7] for i in range(0,len(d),7))
open(sys.argv[2],"wb").write(out)' "$NEXUS_SRC/tests/data/clienthello-sni.bin" "$T/reframed"
  size=$(stat -c %s "$T/reframed")
  run sh -c "python3 '$RELAY_PY' $RP --send-file '$T/reframed' --chunk 5 --delay 0.001 2>/dev/null"
  assert_output "sink:app.test:$size"
}

@test "a silent client is handed over as tcp:PORT with an empty prelude" {
  sink
  relay --hub "$T/hub.sock" --first-bytes-timeout 200ms
  wait_log "$T/relay.log" "hub connected"
  run sh -c "python3 '$RELAY_PY' $RP --timeout 5 2>/dev/null"
  assert_output --partial "sink:tcp:$RP:0"
  assert_file_contains "$T/sink.log" "key=tcp:$RP port=$RP"
  assert_file_contains "$T/sink.log" "prelude=0"
}

@test "hub says NO_ROUTE: HTTP 502 and a TLS unrecognized_name alert from the relay" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  run curl -s -w '\n%{http_code}' --max-time 10 --resolve "noroute.test:$RP:127.0.0.1" "http://noroute.test:$RP/"
  assert_line --index 0 "no route"
  assert_line --index 1 502
  run sh -c "openssl s_client -connect 127.0.0.1:$RP -servername noroute.test </dev/null 2>&1"
  assert_output --partial "unrecognized name"
}

@test "hub says BUSY: HTTP 503" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  run curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "busy.test:$RP:127.0.0.1" "http://busy.test:$RP/"
  assert_output 503
}

@test "a hub that dies while its answer is owed: the client gets 503 from the relay at once, not at --hub-timeout" {
  sink
  relay --hub "$T/hub.sock" --hub-timeout 60s
  wait_log "$T/relay.log" "hub connected"
  run curl -s -o /dev/null -w '%{http_code}' --max-time 30 --resolve "vanish.test:$RP:127.0.0.1" "http://vanish.test:$RP/"
  assert_output 503
  grep -q 'msg="hub down" .*why=closed' "$T/relay.log"
  grep -q 'key=vanish.test .*outcome=hub-down' "$T/relay.log"
}

@test "a hub that does not answer in time: the client gets 503 at --hub-timeout, later clients are fine" {
  sink
  relay --hub "$T/hub.sock" --hub-timeout 500ms
  wait_log "$T/relay.log" "hub connected"
  run curl -s -w '\n%{http_code}' --max-time 10 --resolve "stuck.test:$RP:127.0.0.1" "http://stuck.test:$RP/"
  assert_line --index 1 503
  wait_log "$T/relay.log" "outcome=hub-timeout"
  # the late OK is matched to the abandoned connection, the next one gets its own answer
  run curl -sS --max-time 10 --resolve "after.test:$RP:127.0.0.1" "http://after.test:$RP/"
  assert_output --regexp '^sink:after\.test:'
}

@test "a hub that never accepts: the relay never blocks, clients get 503, it gives up and redials, local routes still work" {
  bg frozen python3 -c '
import socket,sys,time
s=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET);s.bind(sys.argv[1]);s.listen(0)
time.sleep(60)' "$T/hub.sock"
  wait_file "$T/hub.sock"
  PH=$(free_port)
  http_backend web "$PH"
  relay --hub "$T/hub.sock" --hub-timeout 500ms --route "web.test=127.0.0.1:$PH"
  for i in $(seq 9); do
    run curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "x$i.test:$RP:127.0.0.1" "http://x$i.test:$RP/"
    assert_output 503
  done
  # 8 handoffs without a reply: the hub is stuck, the relay drops that connection and redials
  wait_log "$T/relay.log" 'msg="hub down" .*why="not answering"'

  run curl -sS --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
}

@test "hub down at start: clients get 503 / internal_error at once; hub appears: relay connects, no restart" {
  relay --hub "$T/hub.sock"
  run curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/"
  assert_output 503
  run sh -c "python3 '$RELAY_PY' $RP --send-file '$NEXUS_SRC/tests/data/clienthello-sni.bin' --hex 2>/dev/null"
  assert_output "15030100020250"
  sink
  wait_log "$T/relay.log" "hub connected"
  run curl -sS --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/"
  assert_output --regexp '^sink:web\.test:'
}

@test "hub restarts: the relay reconnects by itself and serves again" {
  sink
  relay --hub "$T/hub.sock"
  wait_log "$T/relay.log" "hub connected"
  run curl -sS --max-time 10 --resolve "one.test:$RP:127.0.0.1" "http://one.test:$RP/"
  assert_output --regexp '^sink:one\.test:'
  kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
  wait_log "$T/relay.log" "hub down"
  run curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "two.test:$RP:127.0.0.1" "http://two.test:$RP/"
  assert_output 503
  rm -f "$T/hub.sock"
  sink
  wait_log "$T/relay.log" "hub connected" 2
  run curl -sS --max-time 10 --resolve "three.test:$RP:127.0.0.1" "http://three.test:$RP/"
  assert_output --regexp '^sink:three\.test:'
  run kill -0 "$RELAY_PID"
  assert_success
}

@test "a local --route wins over the hub; other names still go to the hub" {
  sink
  PH=$(free_port)
  http_backend web "$PH"
  relay --hub "$T/hub.sock" --route "web.test=127.0.0.1:$PH"
  wait_log "$T/relay.log" "hub connected"
  run curl -sS --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
  run curl -sS --resolve "other.test:$RP:127.0.0.1" "http://other.test:$RP/who"
  assert_output --regexp '^sink:other\.test:'
}

@test "--inetd: one connection on fd 0 (systemd Accept=yes style), handed to the hub" {
  sink
  IP=$(free_port)
  bg inetd systemd-socket-activate -l "127.0.0.1:$IP" --inetd -a \
    nexus-relay --inetd --hub "$T/hub.sock"
  wait_port "$IP"
  run curl -sS --max-time 10 --resolve "web.test:$IP:127.0.0.1" "http://web.test:$IP/x"
  assert_output --regexp '^sink:web\.test:'
  assert_file_contains "$T/sink.log" "port=$IP"
}

@test "socket activation (Accept=no, LISTEN_FDS): the relay serves the passed listener" {
  PH=$(free_port)
  http_backend web "$PH"
  SP=$(free_port)
  bg relay systemd-socket-activate -l "127.0.0.1:$SP" nexus-relay --route "web.test=127.0.0.1:$PH"
  wait_port "$SP"
  run curl -sS --max-time 10 --resolve "web.test:$SP:127.0.0.1" "http://web.test:$SP/who"
  assert_output "backend web"
  run curl -sS --max-time 10 --resolve "web.test:$SP:127.0.0.1" "http://web.test:$SP/who"
  assert_output "backend web"
}
