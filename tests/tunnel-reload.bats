#!/usr/bin/env bats
# SIGHUP re-reads nexus-tunnel's --config: a download in flight keeps going to the service
# it started with and ends intact, new streams go where the new --map says, and a broken
# new configuration is refused with a log line while the running one stays.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 100000000 /dev/urandom > "$T/big.bin"
  start_web first; FIRST=$WEB_PORT
  start_web second; SECOND=$WEB_PORT
}

# conf TARGET-OF-app.test: the tunnel's configuration file
conf() {
  cat > "$T/tunnel.conf" <<CONF
# written by tunnel-reload.bats
hub wss://127.0.0.1:$HUB_PORT/connect
servername localhost
cafile $T/hub.crt
secret-file $T/hub.secret
name dev
hostname app.test
map app.test=$1
CONF
}

@test "SIGHUP: the transfer in flight ends intact, new streams use the new map, a bad config is refused" {
  start_hub
  start_relay
  conf "127.0.0.1:$FIRST"
  bg tunnel nexus-tunnel --config "$T/tunnel.conf" -v
  TUN=$BG_PID
  wait_backends 1
  wait_log "$T/tunnel.log" "serving app.test via .*: app.test → 127.0.0.1:$FIRST"
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output first

  # 100 MB at 8 MB/s: more than relay, hub and tunnel buffer, so the local stream is
  # still open when the tunnel reloads
  relay_curl --limit-rate 8M -o "$T/slow.out" "http://app.test:$RELAY_PORT/big.bin" &
  DL=$!
  for _ in $(seq 600); do [ -s "$T/slow.out" ] && break; sleep 0.05; done
  [ -s "$T/slow.out" ]

  conf "127.0.0.1:$SECOND"
  kill -HUP "$TUN"
  wait_log "$T/tunnel.log" "reloaded: serving app.test via .*: app.test → 127.0.0.1:$SECOND, otherwise → refused \\(1 streams in flight keep their targets\\)"
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output second

  # a broken configuration: refused, said why, the running one stays
  echo "map app.test=no-port-here" >> "$T/tunnel.conf"
  kill -HUP "$TUN"
  wait_log "$T/tunnel.log" "reload refused, keeping the running configuration: --map app.test=no-port-here: bad address"
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output second
  echo "no-such-option 1" > "$T/tunnel.conf.bad"
  mv "$T/tunnel.conf.bad" "$T/tunnel.conf"
  kill -HUP "$TUN"
  wait_log "$T/tunnel.log" "reload refused" 2
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output second

  # the download that was in flight at the first SIGHUP: complete and intact
  wait "$DL"
  [ "$(sha256sum < "$T/slow.out")" = "$(sha256sum < "$T/big.bin")" ]
  # and the session never dropped
  kill -0 "$TUN"
  run grep -c 'session ended' "$T/tunnel.log"
  assert_output 0
}
