#!/usr/bin/env bats
# The quick start: a tunnel with its own key and no --hostname asks the hub for a name; the
# hub assigns a stable one under the wildcard its --backends line grants, derived from the
# key, and the tunnel prints the URL, which curl then reaches through the relay.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web quick; QUICK_PORT=$WEB_PORT
  nexus-token keygen -t es256 -o "$T/id.key" --backends-line laptop '*.dev.test' app.test \
    > "$T/backends"
  start_hub --backends "$T/backends"
  start_relay
}

@test "no --hostname: the hub assigns a name under the grant's wildcard, the tunnel prints the URL" {
  bg tunnel nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/id.key" --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel.log" 'serving https://[0-9a-f]{12}\.dev\.test/'
  name=$(grep -oE 'https://[0-9a-f]{12}\.dev\.test/' "$T/tunnel.log" | head -1 | cut -d/ -f3)
  grep -q "backend registered.*backend=laptop .*routes=$name" "$T/hub.log"
  run curl -sS --max-time 20 --resolve "$name:$RELAY_PORT:127.0.0.1" "http://$name:$RELAY_PORT/who"
  assert_success
  assert_output quick
  # the name is derived from the key: the same after a reconnect
  kill "$BG_PID"; wait "$BG_PID" 2>/dev/null || true
  bg tunnel2 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/id.key" --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel2.log" "serving https://$name/"
}

@test "a grant without a wildcard has no name to assign: refused, saying so" {
  nexus-token keygen -t es256 -o "$T/fixed.key" --backends-line fixed app.test >> "$T/backends"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'backends file loaded.*backends=2'
  run timeout 20 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/fixed.key" --to 127.0.0.1:9
  assert_failure 1
  assert_output --partial 'no wildcard in this key'
}

@test "the everyday command: ~/.config/nexus/id.key and tunnel.conf by default" {
  mkdir -p "$T/home/.config/nexus"
  cp "$T/id.key" "$T/home/.config/nexus/id.key"
  printf 'hub wss://127.0.0.1:%s/connect\nservername localhost\ncafile %s\n' "$HUB_PORT" \
    "$T/hub.crt" > "$T/home/.config/nexus/tunnel.conf"
  HOME="$T/home" bg tunnel nexus-tunnel --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel.log" 'serving https://[0-9a-f]{12}\.dev\.test/'
  name=$(grep -oE 'https://[0-9a-f]{12}\.dev\.test/' "$T/tunnel.log" | head -1 | cut -d/ -f3)
  run curl -sS --max-time 20 --resolve "$name:$RELAY_PORT:127.0.0.1" "http://$name:$RELAY_PORT/who"
  assert_output quick
  # --hostname claims a granted name instead, with the same key
  HOME="$T/home" bg tunnel-app nexus-tunnel --hostname app.test --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel-app.log" 'serving app.test'
}

@test "--random-name: a random name under the wildcard, kept when the tunnel reconnects" {
  bg tunnel nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/id.key" --random-name --to "127.0.0.1:$QUICK_PORT"
  TUN_PID=$BG_PID
  wait_log "$T/tunnel.log" 'serving https://[0-9a-f]{12}\.dev\.test/'
  name=$(grep -oE 'https://[0-9a-f]{12}\.dev\.test/' "$T/tunnel.log" | head -1 | cut -d/ -f3)
  # a second tunnel with the same key and --random-name gets another name; without it, the
  # derived one, which is neither
  bg tunnel2 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/id.key" --random-name --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel2.log" 'serving https://[0-9a-f]{12}\.dev\.test/'
  name2=$(grep -oE 'https://[0-9a-f]{12}\.dev\.test/' "$T/tunnel2.log" | head -1 | cut -d/ -f3)
  [ "$name" != "$name2" ]
  bg tunnel3 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --key "$T/id.key" --to "127.0.0.1:$QUICK_PORT"
  wait_log "$T/tunnel3.log" 'serving https://[0-9a-f]{12}\.dev\.test/'
  name3=$(grep -oE 'https://[0-9a-f]{12}\.dev\.test/' "$T/tunnel3.log" | head -1 | cut -d/ -f3)
  [ "$name3" != "$name" ] && [ "$name3" != "$name2" ]
  run curl -sS --max-time 20 --resolve "$name:$RELAY_PORT:127.0.0.1" "http://$name:$RELAY_PORT/who"
  assert_output quick
  # the hub restarts: the tunnel reconnects and claims the same random name
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  bg hub2 nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/hub2.sock" --backends "$T/backends" -v
  wait_log "$T/hub2.log" "backend registered.*backend=laptop .*routes=$name" 1 60
  [ "$(grep -c "serving https://$name/" "$T/tunnel.log")" -ge 2 ]
}

@test "--random-name goes with a key and no --hostname" {
  run nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --key "$T/id.key" --random-name \
    --hostname app.test --to 127.0.0.1:9
  assert_failure 2
  assert_output --partial -- '--random-name asks the hub for a name'
}
