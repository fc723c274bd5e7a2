#!/usr/bin/env bats
# nexus-hub re-reads its --backends file on SIGHUP (here the only credential it has): a
# backend whose line was removed is disconnected and cannot come back, the others stay; a
# file that no longer loads keeps the old table, with a log line; a grant narrowed under a
# live backend disconnects it too.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one; ONE_PORT=$WEB_PORT
  start_web two; TWO_PORT=$WEB_PORT
  nexus-token keygen -t es256 -o "$T/edge-1.key" --backends-line edge-1 app.test > "$T/edge-1.line"
  nexus-token keygen -t es256 -o "$T/edge-2.key" --backends-line edge-2 other.test > "$T/edge-2.line"
  cat "$T/edge-1.line" "$T/edge-2.line" > "$T/backends"
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --backends "$T/backends" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_relay
  for n in 1 2; do
    port=$ONE_PORT; host=app.test
    [ $n = 2 ] && port=$TWO_PORT host=other.test
    bg "tunnel-edge-$n" nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" \
      --servername localhost --cafile "$T/hub.crt" --key "$T/edge-$n.key" --name "edge-$n" \
      --hostname "$host" --to "127.0.0.1:$port" -v
  done
  wait_backends 2
}

@test "removing a line + SIGHUP disconnects that backend; the other keeps serving" {
  cp "$T/edge-2.line" "$T/backends"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="backend disconnected".*key=edge-1 .*reason="backend key removed from the backends file"'
  wait_log "$T/hub.log" 'msg="backends file loaded".*backends=1'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  refute_output 200
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output two
  wait_log "$T/tunnel-edge-1.log" "session ended: hub refused authentication \\(1008: backend key removed from the backends file\\): the hub.s --backends file no longer lists this --key"
  # edge-1 reconnects and is now an unknown key
  wait_log "$T/hub.log" 'msg="backend refused".*reason="stage0 token validation failed: unknown key'
  kill -0 "$HUB_PID"
}

@test "a file that does not load keeps the old one, with a log line" {
  printf 'edge-3 MFkwEwYHKoZIzj0CAQYIKoZI host=app.test\n' > "$T/backends"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="backends file not reloaded, keeping the old one".*line 1'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output two
}

@test "a grant narrowed under a live backend disconnects it" {
  { sed 's/host=app.test/host=elsewhere.test/' "$T/edge-1.line"; cat "$T/edge-2.line"; } > "$T/backends"
  kill -HUP "$HUB_PID"
  wait_log "$T/hub.log" 'msg="backend disconnected".*key=edge-1 .*hostname app.test is not granted'
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output two
}

@test "an edited file is reloaded without SIGHUP: a line removed disconnects, one added lets in" {
  # as an editor saves: a new file renamed over the old one
  cp "$T/edge-1.line" "$T/backends.new"
  mv "$T/backends.new" "$T/backends"
  wait_log "$T/hub.log" 'msg="backends file changed, reloading"'
  wait_log "$T/hub.log" 'msg="backend disconnected".*key=edge-2 .*reason="backend key removed from the backends file"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  run relay_curl -o /dev/null -w '%{http_code}' "http://other.test:$RELAY_PORT/who"
  refute_output 200
  # an append, as echo >> does: edge-2, retrying all along, is let in again
  cat "$T/edge-2.line" >> "$T/backends"
  wait_log "$T/hub.log" 'msg="backends file changed, reloading"' 2
  wait_log "$T/hub.log" 'msg="backend registered".*backend=edge-2' 2 120
  run relay_curl "http://other.test:$RELAY_PORT/who"
  assert_output two
}
