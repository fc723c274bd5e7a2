#!/usr/bin/env bats
# nexus-hub --max-sessions-per-backend / --max-sessions: live (authenticated) backend
# sessions are bounded per backend name (the token's sub) and in all, so a leaked token or a
# tunnel reconnecting in a loop cannot make the hub hold sessions without end. One more is
# refused after its tokens with close 1013 (try again later): nexus-tunnel says why and
# retries with backoff, the sessions already live keep serving, and a place freed is taken
# by the next try. Peer hubs' mesh links are not backend sessions: a hub at its cap still
# links to its peers and carries their routes.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web svc
  MP=$(free_port)
}

# tun LOG NAME [ARGS...]: nexus-tunnel as backend NAME (log $T/tunnel-LOG.log), pid in $BG_PID
tun() {
  local log=$1 name=$2
  shift 2
  bg "tunnel-$log" nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/hub.secret" --name "$name" -v "$@"
}

metric() {
  curl -sS --max-time 20 "http://127.0.0.1:$MP/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# who HOST: what the web service behind HOST answers through the relay
who() {
  curl -sS --max-time 20 --resolve "$1:$RELAY_PORT:127.0.0.1" "http://$1:$RELAY_PORT/who"
}

@test "per backend: a third session of one name is refused and retried, the two serve on, a freed place is taken" {
  start_hub --max-sessions-per-backend 2 --metrics "127.0.0.1:$MP"
  start_relay
  tun w1 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  W1=$BG_PID
  tun w2 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 2
  tun w3 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  W3=$BG_PID
  wait_log "$T/hub.log" 'msg="backend refused" .*code=1013 reason="too many sessions for backend web \(max-sessions-per-backend 2\), try again later"'
  # the tunnel says why, in the hub's words, and tries again later: it does not exit
  wait_log "$T/tunnel-w3.log" 'session ended: hub refused the session for now \(1013: too many sessions for backend web \(max-sessions-per-backend 2\), try again later\)'
  wait_log "$T/tunnel-w3.log" 'reconnecting in [0-9]'
  kill -0 "$W3"
  # the two live sessions still carry traffic
  for _ in $(seq 6); do
    run who app.test
    assert_output svc
  done
  [ "$(metric nexus_hub_sessions)" = 2 ]
  [ "$(metric 'nexus_hub_sessions_refused_total{reason="backend_limit"}')" -ge 1 ]
  [ "$(metric 'nexus_hub_sessions_refused_total{reason="session_limit"}')" = 0 ]
  # SIGUSR1's status line counts them too
  kill -USR1 "$HUB_PID"
  wait_log "$T/hub.log" 'msg=status backends=2 .* sessions_refused=[1-9][0-9]* '
  # one goes: the third takes its place on its next try, and traffic flows on
  kill "$W1"
  wait_log "$T/hub.log" 'msg="backend session ended" session=[0-9]+ backend=web'
  wait_backends 3
  wait_log "$T/hub.log" 'msg="backend registered" session=[0-9]+ backend=web' 3
  run who app.test
  assert_output svc
  [ "$(metric nexus_hub_sessions)" = 2 ]
}

@test "in all: with --max-sessions 3 a fourth session of another name is refused, a freed place is taken" {
  start_hub --max-sessions-per-backend 2 --max-sessions 3 --metrics "127.0.0.1:$MP"
  start_relay
  tun w1 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  tun w2 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  tun other other --hostname other.test --to "127.0.0.1:$WEB_PORT"
  OTHER=$BG_PID
  wait_backends 3
  tun more more --hostname more.test --to "127.0.0.1:$WEB_PORT"
  MORE=$BG_PID
  wait_log "$T/hub.log" 'msg="backend refused" .*code=1013 reason="too many backend sessions on this hub \(max-sessions 3\), try again later"'
  wait_log "$T/tunnel-more.log" 'hub refused the session for now \(1013: too many backend sessions on this hub \(max-sessions 3\), try again later\)'
  wait_log "$T/tunnel-more.log" 'reconnecting in [0-9]'
  kill -0 "$MORE"
  run who app.test
  assert_output svc
  run who other.test
  assert_output svc
  [ "$(metric 'nexus_hub_sessions_refused_total{reason="session_limit"}')" -ge 1 ]
  [ "$(metric nexus_hub_sessions)" = 3 ]
  # other goes: more gets in and serves
  kill "$OTHER"
  wait_log "$T/hub.log" 'msg="backend registered" session=[0-9]+ backend=more' 1 30
  for _ in $(seq 100); do
    out=$(who more.test 2>/dev/null) && [ "$out" = svc ] && break
    sleep 0.1
  done
  assert_equal "$out" svc
  [ "$(metric nexus_hub_sessions)" = 3 ]
}

@test "mesh: peer links are not backend sessions, a hub at its cap links to its peer and carries its routes" {
  nexus-token keygen -t hs256 -o "$T/peer.secret" >/dev/null
  # hub A: the one the relay hands to, at its cap of one session with its own backend
  start_hub --max-sessions 1 --max-sessions-per-backend 1 --peer-secret-file "$T/peer.secret" \
    --node-name hub-A
  A_PORT=$HUB_PORT
  start_relay
  tun a web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  # hub B dials A's /mesh with the same caps and has one backend of its own
  bg_listener hub-B "msg=listening backends=@PORT@ " nexus-hub --listen "127.0.0.1:@PORT@" \
    --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" \
    --relay-socket "$T/B.sock" --peer-secret-file "$T/peer.secret" --node-name hub-B \
    --peer "wss://127.0.0.1:$A_PORT/mesh" --peer-ca "$T/hub.crt" \
    --max-sessions 1 --max-sessions-per-backend 1 -v
  HUB_PORT=$BG_PORT
  tun b web --hostname other.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/hub-B.log" 'msg="backend registered"'
  wait_log "$T/hub.log" 'msg="peer routes".*node=hub-B.*other\.test' 1 15
  # through A's relay: A's own backend, and B's over the mesh link
  run who app.test
  assert_output svc
  run who other.test
  assert_output svc
  run grep -c 'code=1013' "$T/hub.log" "$T/hub-B.log"
  assert_line "$T/hub.log:0"
  assert_line "$T/hub-B.log:0"
}

@test "--config and SIGHUP: a cap raised in the file lets the waiting tunnel in" {
  echo 'max-sessions-per-backend 1' > "$T/hub.conf"
  start_hub --config "$T/hub.conf"
  tun w1 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_backends 1
  tun w2 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/tunnel-w2.log" 'max-sessions-per-backend 1\), try again later'
  echo 'max-sessions-per-backend 2' > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded"'
  wait_backends 2
  # lowered again: both stay, a third waits
  echo 'max-sessions-per-backend 1' > "$T/hub.conf"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="configuration reloaded"' 2
  tun w3 web --hostname app.test --to "127.0.0.1:$WEB_PORT"
  wait_log "$T/tunnel-w3.log" 'max-sessions-per-backend 1\), try again later'
  run grep -c 'msg="backend session ended"' "$T/hub.log"
  assert_output 0
}

@test "--max-sessions and --max-sessions-per-backend: a bad value is a usage error" {
  run nexus-hub --max-sessions 0
  assert_failure 2
  assert_output --partial '--max-sessions:'
  run nexus-hub --max-sessions-per-backend x
  assert_failure 2
  assert_output --partial '--max-sessions-per-backend:'
  NEXUS_HUB_MAX_SESSIONS=-1 run nexus-hub
  assert_failure 2
  assert_output --partial '--max-sessions:'
}
