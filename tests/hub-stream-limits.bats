#!/usr/bin/env bats
# nexus-hub --max-streams-per-source / --max-streams: the end-user streams the hub carries are
# bounded per client address and in all, across workers and backends (the relay bounds only
# the connections it still holds). A client over either is told no in its own protocol, the
# hub says why once a second and counts it, and a place freed is taken again.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web held --keep-alive
  MP=$(free_port)
  start_hub --max-streams-per-source 2 --max-streams 3 --metrics "127.0.0.1:$MP"
  start_relay
  start_tunnel held --hostname held.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
}

# code [CURL ARGS...]: the HTTP status of one request to held.test through the relay
code() {
  curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
    --resolve "held.test:$RELAY_PORT:127.0.0.1" "$@" "http://held.test:$RELAY_PORT/who"
}

# hold FD: a keep-alive request on fd FD (from 127.0.0.1) that stays open after its 200
hold() {
  eval "exec $1<>/dev/tcp/127.0.0.1/$RELAY_PORT"
  printf 'GET /who HTTP/1.1\r\nHost: held.test\r\n\r\n' >&"$1"
  local status
  read -r status <&"$1"
  [[ "$status" == "HTTP/1.1 200"* ]]
}

metric() {
  curl -sS --max-time 20 "http://127.0.0.1:$MP/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

@test "per source and in all: over a cap a client is told no, a freed place is taken again" {
  hold 7
  hold 8
  # a third stream from 127.0.0.1 is over --max-streams-per-source: 503, and a TLS client
  # gets the internal_error alert
  run code
  assert_output 503
  run curl -sS --max-time 20 -o /dev/null --resolve "held.test:$RELAY_PORT:127.0.0.1" \
    -k "https://held.test:$RELAY_PORT/who"
  assert_failure
  assert_output --partial 'alert internal error'
  wait_log "$T/hub.log" 'msg="too many streams from one source, refusing new ones" client=127.0.0.1:[0-9]+ max_per_source=2 times=1'
  # one line a second, not one per refusal
  [ "$(grep -c 'too many streams from one source' "$T/hub.log")" -le 2 ]
  # another address still gets in...
  run code --interface 127.0.0.2
  assert_output 200
  # ...and holds the last of the 3 places (without copies of fds 7 and 8, which must close
  # when the shell closes them): then a third address is refused too
  bg holder python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /who HTTP/1.1\r\nHost: held.test\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode(), flush=True)
time.sleep(60)' "$RELAY_PORT" 7>&- 8>&-
  wait_log "$T/holder.log" 'HTTP/1.1 200'
  run code --interface 127.0.0.3
  assert_output 503
  wait_log "$T/hub.log" 'msg="too many streams, refusing new ones" client=127.0.0.3:[0-9]+ max_streams=3 times=1'
  [ "$(metric 'nexus_hub_streams_refused_total{reason="source_limit"}')" = 2 ]
  [ "$(metric 'nexus_hub_streams_refused_total{reason="stream_limit"}')" = 1 ]
  [ "$(metric nexus_hub_streams)" = 3 ]
  # a stream that ends gives its place back: 127.0.0.1 gets in again
  exec 7>&-
  for _ in $(seq 100); do c=$(code); [ "$c" = 200 ] && break; sleep 0.1; done
  assert_equal "$c" 200
  exec 8>&-
}

@test "--max-streams and --max-streams-per-source: a bad value is a usage error" {
  run nexus-hub --max-streams 0
  assert_failure 2
  assert_output --partial '--max-streams:'
  run nexus-hub --max-streams-per-source x
  assert_failure 2
  assert_output --partial '--max-streams-per-source:'
}
