#!/usr/bin/env bats
# nexus-relay against hostile or broken clients: every one gets a clear answer or a close,
# never a hang and never a crash, and the relay keeps serving the next client.
load lib/common
load lib/relay

suite_setup() {
  PH=$(free_port)
  http_backend web "$PH"
  HELLO="$NEXUS_SRC/tests/data/clienthello-sni.bin"
}

# still_serving: the relay answers a good request after whatever came before.
still_serving() {
  run curl -sS --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
  run kill -0 "$RELAY_PID"
  assert_success
}

raw() { python3 "$RELAY_PY" "$RP" "$@" 2>"$T/raw.err"; }

@test "truncated ClientHello, then EOF: closed, relay fine" {
  relay --route "web.test=127.0.0.1:$PH"
  head -c 100 "$HELLO" > "$T/trunc"
  run raw --send-file "$T/trunc" --half-close --timeout 5 --hex
  assert_output ""
  assert_file_contains "$T/raw.err" EOF
  still_serving
}

@test "truncated ClientHello, then silence: decode_error alert after the header timeout" {
  relay --route "web.test=127.0.0.1:$PH" --header-timeout 500ms --first-bytes-timeout 100ms
  head -c 100 "$HELLO" > "$T/trunc"
  run raw --send-file "$T/trunc" --timeout 10 --hex
  assert_output "15030100020232"
  assert_file_contains "$T/raw.err" EOF
  wait_log "$T/relay.log" "outcome=timeout"
  still_serving
}

@test "a corrupt ClientHello gets a decode_error alert and the reason is logged" {
  relay --route "web.test=127.0.0.1:$PH"
  python3 -c 'import sys;d=bytearray(open(sys.argv[1],"rb").read());d[5]=2;sys.stdout.buffer.write(d)' "$HELLO" > "$T/bad"
  run raw --send-file "$T/bad" --timeout 5 --hex
  assert_output "15030100020232"
  wait_log "$T/relay.log" 'outcome=invalid why="first handshake message is not a ClientHello"'
  still_serving
}

@test "a ClientHello that claims more than 32 KiB is refused at once with decode_error" {
  relay --route "web.test=127.0.0.1:$PH"
  # record of 16 KiB announcing a 40 000-byte ClientHello
  run raw --send "\x16\x03\x01\x40\x00\x01\x00\x9c\x40" --timeout 5 --hex
  assert_output "15030100020232"
  wait_log "$T/relay.log" 'why="ClientHello over 32 KiB"'
}

@test "a ClientHello without SNI and no port route: closed, not hung" {
  relay --route "web.test=127.0.0.1:$PH"
  run raw --send-file "$NEXUS_SRC/tests/data/clienthello-nosni.bin" --timeout 5 --hex
  assert_file_contains "$T/raw.err" EOF
  wait_log "$T/relay.log" "proto=tls key=tcp:$RP route=- outcome=no-route"
  still_serving
}

@test "binary garbage: no route for tcp:PORT, closed" {
  relay --route "web.test=127.0.0.1:$PH"
  head -c 5000 /dev/urandom | tr '\026GPHDOCT' 'xxxxxxxx' > "$T/garbage"
  run raw --send-file "$T/garbage" --timeout 5
  assert_file_contains "$T/raw.err" EOF
  still_serving
}

@test "a silent client without a port route is closed after the first-bytes timeout" {
  relay --route "web.test=127.0.0.1:$PH" --first-bytes-timeout 200ms
  run raw --timeout 10
  assert_file_contains "$T/raw.err" EOF
  wait_log "$T/relay.log" "proto=tcp key=tcp:$RP route=- outcome=no-route"
  still_serving
}

@test "HTTP: duplicate Host, folded header, bad Host name get 400 Bad Request" {
  relay --route "web.test=127.0.0.1:$PH"
  run raw --send "GET / HTTP/1.1\r\nHost: web.test\r\nHost: evil.test\r\n\r\n" --timeout 5
  assert_output --partial "HTTP/1.1 400 Bad Request"
  run raw --send "GET / HTTP/1.1\r\nHost: web.test\r\n folded\r\n\r\n" --timeout 5
  assert_output --partial "HTTP/1.1 400 Bad Request"
  run raw --send "GET / HTTP/1.1\r\nHost: bad_\x01name\r\n\r\n" --timeout 5
  assert_output --partial "HTTP/1.1 400 Bad Request"
  wait_log "$T/relay.log" 'why="duplicate Host header"'
  still_serving
}

@test "an HTTP head over 64 KiB gets 400, the relay keeps its memory bounded" {
  relay --route "web.test=127.0.0.1:$PH"
  big=$(head -c 70000 /dev/zero | tr '\0' 'x')
  run raw --send "GET / HTTP/1.1\r\nHost: web.test\r\nX-Big: $big\r\n\r\n" --timeout 5
  assert_output --partial "HTTP/1.1 400 Bad Request"
  still_serving
}

@test "an unknown Host gets 502 with Connection: close, even when the client keeps sending" {
  relay --route "web.test=127.0.0.1:$PH"
  run raw --send "POST / HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 100000\r\n\r\n$(head -c 20000 /dev/zero | tr '\0' y)" --timeout 5
  assert_output --partial "HTTP/1.1 502 Bad Gateway"
  assert_output --partial "Connection: close"
  still_serving
}

@test "an incomplete HTTP head that trickles forever gets 408 at the header timeout" {
  relay --route "web.test=127.0.0.1:$PH" --header-timeout 1s
  run raw --send "GET / HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n" --chunk 4 --delay 0.05 --timeout 10
  assert_output --partial "HTTP/1.1 408 Request Timeout"
  still_serving
}

@test "many clients that connect and vanish leave no connection behind" {
  relay --route "web.test=127.0.0.1:$PH"
  for i in $(seq 30); do
    python3 -c 'import socket,sys;s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.send(b"\x16\x03\x01\x02");s.close()' "$RP"
  done
  still_serving
  wait_log "$T/relay.log" 'outcome=' 31
}

@test "an IPv6 literal Host is well-formed but never a route: 502, not 400" {
  relay --route "web.test=127.0.0.1:$PH"
  run raw --send "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n" --timeout 5
  assert_output --partial "HTTP/1.1 502 Bad Gateway"
}

@test "out of file descriptors: the relay stops accepting, then serves again once fds free up" {
  RP=$(free_port)
  bg relay prlimit --nofile=12:12 nexus-relay --listen "127.0.0.1:$RP" \
    --route "web.test=127.0.0.1:$PH" --first-bytes-timeout 30s
  RELAY_PID=$BG_PID
  wait_port "$RP"
  # silent clients hold the relay's fds
  python3 -c '
import socket,sys,time
ss=[socket.create_connection(("127.0.0.1",int(sys.argv[1]))) for _ in range(12)]
time.sleep(2)
for s in ss: s.close()' "$RP" &
  holder=$!
  sleep 1
  wait_log "$T/relay.log" "msg=\"not accepting for now\""
  wait "$holder"
  run curl -sS --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
}
