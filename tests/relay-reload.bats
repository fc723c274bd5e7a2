#!/usr/bin/env bats
# nexus-relay on SIGHUP re-reads its options and --config file: a 100 MB download on a
# --route keeps going, intact, while the routes change under it; new connections use the
# new routes (a changed address, an added name, a removed one), names the hub serves keep
# going to the hub; a configuration that does not load (an address that does not resolve, a
# bad option) is refused with a log line and the old routes stay; changed listeners are
# reported as needing a restart. -n checks a configuration without binding.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one; ONE_PORT=$WEB_PORT
  start_web two; TWO_PORT=$WEB_PORT
  start_web hubbed; HUBBED_PORT=$WEB_PORT
  start_hub
  RELAY_PORT=$(free_port)
  printf 'listen 127.0.0.1:%s\nhub %s\nroute app.test=127.0.0.1:%s\n' \
    "$RELAY_PORT" "$T/hub.sock" "$ONE_PORT" > "$T/relay.conf"
  bg relay nexus-relay --config "$T/relay.conf"
  RELAY_PID=$BG_PID
  wait_port "$RELAY_PORT"
  start_tunnel edge --hostname other.test --to "127.0.0.1:$HUBBED_PORT"
  wait_backends 1
}

@test "a 100 MB download on a route keeps going across SIGHUP; new connections use the new routes" {
  head -c 100000000 /dev/urandom > "$T/big"
  relay_curl --limit-rate 20M -o "$T/got" "http://app.test:$RELAY_PORT/big" &
  DL=$!
  for i in $(seq 600); do
    [ "$(stat -c %s "$T/got" 2>/dev/null || echo 0)" -gt 5000000 ] && break
    sleep 0.1
  done
  printf 'listen 127.0.0.1:%s\nhub %s\nroute app.test=127.0.0.1:%s\nroute a.wild.test=127.0.0.1:%s\n' \
    "$RELAY_PORT" "$T/hub.sock" "$TWO_PORT" "$ONE_PORT" > "$T/relay.conf"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'msg="configuration reloaded" routes=2'
  got=$(stat -c %s "$T/got")
  echo "# bytes received when the relay reloaded: $got" >&3
  [ "$got" -lt 100000000 ]
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output two
  run relay_curl "http://a.wild.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl "http://other.test:$RELAY_PORT/who"   # the hub's, as before
  assert_output hubbed
  wait "$DL"
  [ "$(sha256sum < "$T/got")" = "$(sha256sum < "$T/big")" ]
  # the download's log line still names the route it was carried by, with its bytes
  wait_log "$T/relay.log" "msg=conn .*key=app.test route=\"?127.0.0.1:$ONE_PORT\"? outcome=ok up=[0-9]+ down=10000[0-9]{4}"
  # a connection handed to the hub has no up=0 down=0 of the relay's
  run grep -E 'key=other.test route=hub .*up=0 down=0' "$T/relay.log"
  assert_failure
  # a route removed: app.test now goes to the hub, which does not serve it
  printf 'listen 127.0.0.1:%s\nhub %s\n' "$RELAY_PORT" "$T/hub.sock" > "$T/relay.conf"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'msg="configuration reloaded" routes=0'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 502
}

@test "a configuration that does not load is refused; the old routes stay" {
  printf 'listen 127.0.0.1:%s\nhub %s\nroute app.test=no-such-host.invalid:80\n' \
    "$RELAY_PORT" "$T/hub.sock" > "$T/relay.conf"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'level=error msg="configuration not reloaded, keeping the old one" error=.*no-such-host.invalid'
  printf 'listen 127.0.0.1:%s\nhub %s\nroute app.test=127.0.0.1:%s\nmax-conns zero\n' \
    "$RELAY_PORT" "$T/hub.sock" "$TWO_PORT" > "$T/relay.conf"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'msg="configuration not reloaded, keeping the old one"' 2
  printf 'garbage\n' > "$T/relay.conf"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'msg="configuration not reloaded, keeping the old one"' 3
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  kill -0 "$RELAY_PID"
}

@test "changed listeners are reported as needing a restart; -n checks without binding" {
  other=$(free_port)
  printf 'listen 127.0.0.1:%s\nhub %s\nroute app.test=127.0.0.1:%s\n' \
    "$other" "$T/hub.sock" "$TWO_PORT" > "$T/relay.conf"
  run nexus-relay -n --config "$T/relay.conf"
  assert_success
  assert_output --partial "configuration OK (1 listen address, 1 route, hub $T/hub.sock)"
  kill -HUP "$RELAY_PID"
  wait_log "$T/relay.log" 'level=warn msg="not reloaded: --listen, --listen-udp, --hub, --user and --metrics need a restart"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output two
  run nexus-relay --check-config --listen 127.0.0.1:1 --route 'bad route'
  assert_failure 2
  run nexus-relay -n --listen 127.0.0.1:1 --route app.test=no-such-host.invalid:80
  assert_failure 1
  assert_output --partial 'route app.test: cannot resolve no-such-host.invalid:80'
}
