#!/usr/bin/env bats
# nexus-relay --route: clients reach the right TCP backend by SNI, Host or port, TLS stays
# end to end, and the bytes the relay read to decide are replayed first.
load lib/common
load lib/relay

suite_setup() {
  make_certs
  PA=$(free_port); PB=$(free_port); PW=$(free_port); PH=$(free_port)
  tls_backend a.test "$PA"
  tls_backend b.test "$PB"
  tls_backend x.w.test "$PW"
  http_backend web "$PH"
}

# start_echo: a TCP echo server on a free port, in $EP
start_echo() {
  EP=$(free_port)
  bg echo python3 -c '
import socket,sys
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",int(sys.argv[1])));s.listen(8)
while True:
    c,_=s.accept()
    while True:
        d=c.recv(4096)
        if not d: break
        c.sendall(d)
    c.close()' "$EP"
  wait_port "$EP"
}

@test "HTTPS by SNI: curl reaches the backend named in the SNI, certificate verified end to end" {
  relay --route "a.test=127.0.0.1:$PA" --route "B.Test.=127.0.0.1:$PB"
  run curl -sS --cacert "$T/pki/ca.crt" --resolve "a.test:$RP:127.0.0.1" "https://a.test:$RP/who"
  assert_success
  assert_output "backend a.test"
  run curl -sS --cacert "$T/pki/ca.crt" --resolve "b.test:$RP:127.0.0.1" "https://b.test:$RP/who"
  assert_success
  assert_output "backend b.test"
  wait_log "$T/relay.log" 'outcome=ok' 2
  wait_log "$T/relay.log" "proto=tls key=b.test route=127.0.0.1:$PB"
}

@test "openssl s_client -servername sees the backend's own certificate" {
  relay --route "a.test=127.0.0.1:$PA" --route "b.test=127.0.0.1:$PB"
  run sh -c "openssl s_client -connect 127.0.0.1:$RP -servername b.test -CAfile '$T/pki/ca.crt' </dev/null 2>&1"
  assert_output --partial "subject=CN = b.test"
  assert_output --partial "Verify return code: 0 (ok)"
}

@test "wildcard route matches one label, not the bare parent" {
  relay --route "*.w.test=127.0.0.1:$PW"
  run curl -sS --cacert "$T/pki/ca.crt" --resolve "x.w.test:$RP:127.0.0.1" "https://x.w.test:$RP/who"
  assert_success
  assert_output "backend x.w.test"
  # w.test itself and a.b.w.test are not covered: the client gets unrecognized_name
  run sh -c "openssl s_client -connect 127.0.0.1:$RP -servername w.test </dev/null 2>&1"
  assert_output --partial "unrecognized name"
  run sh -c "openssl s_client -connect 127.0.0.1:$RP -servername a.b.w.test </dev/null 2>&1"
  assert_output --partial "unrecognized name"
}

@test "plain HTTP by Host (port stripped, case folded)" {
  relay --route "web.test=127.0.0.1:$PH"
  run curl -sS --resolve "WEB.test:$RP:127.0.0.1" "http://WEB.test:$RP/who"
  assert_success
  assert_output "backend web"
  # absolute-form request line: the authority decides
  # (http.server itself answers 404 to an absolute-form path: that it answers at all shows the
  # route; other.test has no route and would get the relay's 502)
  run rawclient "$RP" --send "GET http://web.test:$RP/who HTTP/1.0\r\nHost: other.test\r\n\r\n"
  assert_output --partial "Server: SimpleHTTP"
  wait_log "$T/relay.log" "proto=http key=web.test route=127.0.0.1:$PH outcome=ok"
}

@test "a ClientHello written 7 bytes at a time still routes" {
  relay --route "a.test=127.0.0.1:$PA"
  run rawclient "$RP" --tls a.test --cafile "$T/pki/ca.crt" --chunk 7 --delay 0.002
  assert_success
  assert_output --partial "backend a.test"
}

@test "a 40 KiB HTTP head routes and reaches the backend whole" {
  relay --route "web.test=127.0.0.1:$PH"
  big=$(head -c 40960 /dev/zero | tr '\0' 'x')
  run rawclient "$RP" --send "GET /who HTTP/1.0\r\nHost: web.test\r\nX-Big: $big\r\n\r\n" --chunk 1000
  assert_output --partial "200 OK"
  assert_output --partial "backend web"
}

# half_close_bulk [RELAY OPTIONS]: a 3 MB reply to a client that half-closed, byte for byte.
half_close_bulk() {
  head -c 3000000 /dev/urandom > "$T/www-web/big.bin"
  relay --route "web.test=127.0.0.1:$PH" "$@"
  rawclient "$RP" --send "GET /big.bin HTTP/1.0\r\nHost: web.test\r\n\r\n" --half-close > "$T/got" 2> "$T/err"
  assert_file_contains "$T/err" EOF
  # strip the response head, compare the body
  python3 -c 'import sys;d=open(sys.argv[1],"rb").read();sys.stdout.buffer.write(d[d.index(b"\r\n\r\n")+4:])' "$T/got" > "$T/body"
  run cmp "$T/body" "$T/www-web/big.bin"
  assert_success
}

@test "half-close: a client that shuts its write side after the request gets the whole reply" {
  half_close_bulk
}

@test "--splice: the same transfer, zero-copy, arrives whole" {
  half_close_bulk --splice
}

@test "tcp:PORT route: a silent client is routed by the port after the first-bytes timeout" {
  # a server-speaks-first backend
  SP=$(free_port)
  bg banner python3 -c '
import socket,sys
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",int(sys.argv[1])));s.listen(8)
while True:
    c,_=s.accept();c.sendall(b"220 banner\r\n");c.close()' "$SP"
  wait_port "$SP"
  RP=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RP" --route "tcp:$RP=127.0.0.1:$SP" --first-bytes-timeout 200ms
  wait_port "$RP"
  run rawclient "$RP" --timeout 5
  assert_output --partial "220 banner"
  wait_log "$T/relay.log" "proto=tcp key=tcp:$RP"
}

@test "bytes that are neither TLS nor HTTP go to the tcp:PORT route at once, replayed first" {
  start_echo
  RP=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RP" --route "tcp:$RP=127.0.0.1:$EP" --first-bytes-timeout 30s
  wait_port "$RP"
  run sh -c "python3 '$RELAY_PY' $RP --send 'SSH-2.0-test\r\nmore' --half-close --timeout 5 2>/dev/null"
  assert_output "$(printf 'SSH-2.0-test\r\nmore')"
  # a line protocol whose first word looks like an HTTP method is not HTTP either
  run sh -c "python3 '$RELAY_PY' $RP --send 'HELO relay.test\r\n' --half-close --timeout 5 2>/dev/null"
  assert_output "$(printf 'HELO relay.test\r\n')"
}

@test "a client whose second read takes its first bytes past 32 is routed by port, not kept waiting" {
  # "AB" looks like the start of an HTTP method; the lower-case byte after it says it is not,
  # and arrives in a read that ends past 32 bytes, with no line end: the relay must look
  # at once, not wait for an LF that a client waiting for the server never sends.
  start_echo
  RP=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RP" --route "tcp:$RP=127.0.0.1:$EP" --first-bytes-timeout 30s --header-timeout 30s
  wait_port "$RP"
  msg=ABcdefghijklmnopqrstuvwxyz0123456789abcdef
  run sh -c "python3 '$RELAY_PY' $RP --send $msg --split 2 --delay 0.3 --timeout 3 2>/dev/null"
  assert_output "$msg"
  wait_log "$T/relay.log" "key=tcp:$RP route=127.0.0.1:$EP"
}

@test "a backend that refuses the connection gives HTTP 502, not a hang" {
  DEAD=$(free_port)
  relay --route "web.test=127.0.0.1:$DEAD"
  run curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/"
  assert_output 502
  wait_log "$T/relay.log" "outcome=dial-failed"
}

@test "SIGTERM: the relay stops gracefully and says so (SIGHUP does not kill it)" {
  relay --route "web.test=127.0.0.1:$PH"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" "configuration reloaded"
  run curl -sS --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
  kill -TERM "$RELAY_PID"
  for _ in $(seq 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
  run kill -0 "$RELAY_PID"
  assert_failure
  assert_file_contains "$T/relay.log" "msg=stopped"
}

@test "--user: the relay drops root after binding and still routes" {
  [ "$(id -u)" = 0 ] || skip "needs root"
  relay --route "web.test=127.0.0.1:$PH" --user nobody
  run ps -o user= -p "$RELAY_PID"
  assert_output nobody
  run curl -sS --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  assert_output "backend web"
}

@test "--idle-timeout closes a routed connection that carries nothing" {
  QP=$(free_port)
  bg quiet python3 -c '
import socket,sys,time
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",int(sys.argv[1])));s.listen(8)
c,_=s.accept();time.sleep(60)' "$QP"
  wait_port "$QP"
  relay --route "quiet.test=127.0.0.1:$QP" --idle-timeout 300ms
  run rawclient "$RP" --send "GET / HTTP/1.1\r\nHost: quiet.test\r\n\r\n" --timeout 10
  wait_log "$T/relay.log" "outcome=idle"
}

@test "--max-conns: clients over the limit wait in the accept queue, then are served" {
  relay --route "web.test=127.0.0.1:$PH" --max-conns 1 --first-bytes-timeout 30s
  python3 -c '
import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
open(sys.argv[2],"w").close()
time.sleep(1.5);s.close()' "$RP" "$T/held" &
  holder=$!
  wait_file "$T/held"
  sleep 0.2 # the relay accepts it (and then stops accepting) right after the connect
  run curl -sS --max-time 10 --resolve "web.test:$RP:127.0.0.1" "http://web.test:$RP/who"
  wait "$holder"
  assert_output "backend web"
  # the waiting client was accepted only after the first one left
  first=$(grep -n 'outcome=eof' "$T/relay.log" | head -1 | cut -d: -f1)
  wait_log "$T/relay.log" 'outcome=ok'
  second=$(grep -n 'outcome=ok' "$T/relay.log" | head -1 | cut -d: -f1)
  [ "$first" -lt "$second" ]
}

@test "an HTTP head dripped 3 bytes at a time (line ends split across reads) still routes" {
  relay --route "web.test=127.0.0.1:$PH"
  run rawclient "$RP" --send "GET /who HTTP/1.0\r\nX-A: 1\r\nHost: web.test\r\n\r\n" --chunk 3 --delay 0.005
  assert_output --partial "backend web"
}

@test "--inetd with --route: one relay per connection, the reply comes through, the process exits" {
  IP=$(free_port)
  bg inetd systemd-socket-activate -l "127.0.0.1:$IP" --inetd -a \
    nexus-relay --inetd --route "web.test=127.0.0.1:$PH"
  wait_port "$IP"
  for i in 1 2; do
    run curl -sS --max-time 10 --resolve "web.test:$IP:127.0.0.1" "http://web.test:$IP/who"
    assert_output "backend web"
  done
  # each connection's relay logged its line and is gone
  wait_log "$T/inetd.log" "outcome=ok" 2
  for _ in $(seq 50); do
    pgrep -f "^nexus-relay --inetd --route web.test=127.0.0.1:$PH" >/dev/null || break
    sleep 0.1
  done
  run pgrep -f "^nexus-relay --inetd --route web.test=127.0.0.1:$PH"
  assert_failure
}

@test "--proxy-protocol: the backend first reads a PROXY v1 line naming the real client" {
  EP=$(free_port)
  # a backend that answers with the first line it got
  bg proxyecho python3 -c '
import socket,sys
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",int(sys.argv[1])));s.listen(8)
while True:
    c,_=s.accept();f=c.makefile("rb");line=f.readline();c.sendall(line);c.close()' "$EP"
  wait_port "$EP"
  relay --route "web.test=127.0.0.1:$EP" --proxy-protocol
  run sh -c "python3 '$RELAY_PY' $RP --send 'GET / HTTP/1.0\r\nHost: web.test\r\n\r\n' --timeout 5 2>/dev/null"
  assert_output --regexp "^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 [0-9]+ $RP"
}

@test "a routed connection is kept alive both ways (TCP keepalive finds a vanished end)" {
  PR=$(free_port)
  bg holder python3 -c '
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(4)
print("listening", flush=True)
c, _ = l.accept(); time.sleep(60)' "$PR"
  wait_log "$T/holder.log" '^listening'
  relay --route "raw.test=127.0.0.1:$PR"
  exec 7<>"/dev/tcp/127.0.0.1/$RP"
  printf 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n' >&7
  local i out
  for i in $(seq 100); do
    out=$(ss -tnoH state established "( dport = :$PR )")
    [ -n "$out" ] && break
    sleep 0.1
  done
  # the relay's socket toward the service, and its socket from the client
  [[ "$out" == *"timer:(keepalive,"* ]]
  run ss -tnoH state established "( sport = :$RP )"
  assert_output --partial 'timer:(keepalive,'
  exec 7>&-
}

@test "a routed connection has TCP keepalive on both of its sockets (set once on the listener)" {
  start_echo
  RP=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RP" --route "tcp:$RP=127.0.0.1:$EP" --first-bytes-timeout 100ms
  wait_port "$RP"
  python3 -c '
import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"x"); s.recv(1); time.sleep(5)' "$RP" &
  holder=$!
  # the relay's two sockets: the client's (local port RP) and the one to the echo server
  n=0
  for _ in $(seq 50); do
    n=$(ss -tnoH state established "( sport = :$RP or dport = :$EP )" | grep -c 'timer:(keepalive,[12]min') || true
    [ "$n" -ge 2 ] && break
    sleep 0.1
  done
  kill "$holder" 2>/dev/null || true
  [ "$n" -eq 2 ] || { ss -tnoH; false; }
}
