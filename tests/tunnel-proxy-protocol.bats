#!/usr/bin/env bats
# --proxy-protocol / --map …,proxy=vN: the local service learns the end user's address (the
# hub's connect client_ip), not the tunnel's. The end user is curl bound to 127.0.0.2, through
# the real relay, hub and tunnel; the service is haproxy with accept-proxy (it answers with
# the address it took from the header, %ci) and tests/helpers/proxy-sink, an independent
# reader that shows the v2 TLVs (authority, unique id, backend 0xE0).
load lib/common
load lib/tunnel

suite_setup() {
  command -v haproxy >/dev/null || skip "haproxy not installed"
  tunnel_keys
  HAP_PORT=$(free_port)
  cat > "$T/haproxy.cfg" <<CFG
global
  log stdout format raw local0
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend pp
  bind 127.0.0.1:$HAP_PORT accept-proxy
  log-format "seen client=%ci:%cp authority=%[fc_pp_authority] uid=%[fc_pp_unique_id]"
  http-request return status 200 content-type text/plain lf-string "%ci %[fc_pp_authority]\n"
CFG
  bg haproxy haproxy -f "$T/haproxy.cfg" -db
  wait_port "$HAP_PORT"
  bg sink "$HELPERS/proxy-sink"
  wait_log "$T/sink.log" '^listening '
  SINK_PORT=$(awk '/^listening /{print $2; exit}' "$T/sink.log")
}

# user_curl HOST PATH: plain HTTP to the relay from 127.0.0.2, HOST resolved to 127.0.0.1
user_curl() {
  curl -sS --max-time 60 --interface 127.0.0.2 --resolve "$1:$RELAY_PORT:127.0.0.1" \
    "http://$1:$RELAY_PORT$2"
}

@test "haproxy accept-proxy sees the end user's address through v1 and v2" {
  start_hub
  start_relay
  start_tunnel dev --hostname app.test --hostname other.test \
    --map "app.test=127.0.0.1:$HAP_PORT,proxy=v1" --map "other.test=127.0.0.1:$HAP_PORT,proxy=v2"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving '
  run grep 'serving ' "$T/tunnel-dev.log"
  assert_output --partial "app.test → 127.0.0.1:$HAP_PORT (PROXY v1), other.test → 127.0.0.1:$HAP_PORT (PROXY v2)"
  run user_curl app.test /
  assert_success
  assert_output "127.0.0.2 "          # v1 carries no authority
  run user_curl other.test /
  assert_success
  assert_output "127.0.0.2 other.test"
  wait_log "$T/haproxy.log" 'seen client=127\.0\.0\.2:[0-9]+ authority=other\.test uid=[0-9a-f-]{36}'
  # without the header haproxy refuses the connection: the header is what it read
  run curl -sS --max-time 10 "http://127.0.0.1:$HAP_PORT/"
  assert_failure
}

@test "the global --proxy-protocol v2 with every TLV, read by an independent parser" {
  start_hub
  start_relay
  RP=$RELAY_PORT
  start_tunnel edge-7 --hostname app.test --to "127.0.0.1:$SINK_PORT" --proxy-protocol v2
  wait_backends 1
  wait_log "$T/tunnel-edge-7.log" "serving app.test → 127.0.0.1:$SINK_PORT via .* \\(PROXY v2\\)"
  run user_curl app.test /
  assert_success
  assert_output --regexp "^proxy version=2 cmd=PROXY src=127\\.0\\.0\\.2:[0-9]+ dst=0\\.0\\.0\\.0:$RP tlv02=app\\.test tlv05=[0-9a-f-]{36} tlve0=edge-7\$"
  # the unique id is the stream id the tunnel logs
  id=$(sed -n 's/.*tlv05=\([0-9a-f-]*\).*/\1/p' <<<"$output")
  wait_log "$T/tunnel-edge-7.log" "stream $id: app.test from 127.0.0.2:"
}

@test "v1 by default for --to, a map entry that turns it off, and a plain service behind it" {
  start_web plain
  start_hub
  start_relay
  start_tunnel dev --hostname app.test --hostname other.test --proxy-protocol v1 \
    --map "other.test=127.0.0.1:$WEB_PORT,proxy=none" --to "127.0.0.1:$SINK_PORT"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving '
  run user_curl app.test /
  assert_output --regexp "^proxy version=1 cmd=PROXY src=127\\.0\\.0\\.2:[0-9]+ dst=0\\.0\\.0\\.0:$RELAY_PORT\$"
  run user_curl other.test /who
  assert_output plain
}

@test "--exec children get TCPREMOTEIP/TCPREMOTEPORT of the end user, and the rest of our environment" {
  start_hub
  start_relay
  cat > "$T/who.sh" <<'SH'
#!/bin/sh
read -r line
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s %s %s\n' "$TCPREMOTEIP" "$TCPREMOTEPORT" "$KEEP_ME"
SH
  chmod +x "$T/who.sh"
  # a stale TCPREMOTEIP in the tunnel's own environment is replaced, not passed twice
  TCPREMOTEIP=203.0.113.9 KEEP_ME=kept start_tunnel dev --hostname app.test --exec "$T/who.sh"
  wait_backends 1
  wait_log "$T/tunnel-dev.log" 'serving '
  run user_curl app.test /
  assert_output --regexp '^127\.0\.0\.2 [0-9]+ kept$'
}

@test "bad --proxy-protocol values are usage errors" {
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --to 127.0.0.1:80 --proxy-protocol v3
  assert_failure 2
  assert_line --index 0 "nexus-tunnel: --proxy-protocol: 'v3' is not v1, v2 or none"
  run nexus-tunnel --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" \
    --hostname app.test --map 'app.test=127.0.0.1:80,proxy=2x'
  assert_failure 2
  assert_line --index 0 --partial "bad option 'proxy=2x'"
}
