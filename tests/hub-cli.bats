#!/usr/bin/env bats
# nexus-hub as a command: help and version, usage errors (exit 2), start-up failures
# (exit 1, one clear line), options from --config and the environment, and backend tokens
# signed with RS256 / ES256 against --verify-key.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
}

@test "--help and --version" {
  run nexus-hub --help
  assert_success
  assert_output --partial 'usage: nexus-hub --listen ADDR'
  run nexus-hub --version
  assert_success
  assert_output --regexp '^nexus-hub [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "usage errors exit 2 with one line" {
  run nexus-hub
  assert_failure 2
  assert_output --partial 'required'
  base=(--listen 127.0.0.1:0 --cert "$T/hub.crt" --key "$T/hub.key" --relay-socket "$T/s")
  run nexus-hub "${base[@]}"
  assert_failure 2
  assert_output --partial 'exactly one of --secret-file and --verify-key'
  run nexus-hub "${base[@]}" --secret-file "$T/hub.secret" --verify-key "$T/hub.crt"
  assert_failure 2
  run nexus-hub "${base[@]}" --secret-file "$T/hub.secret" --allow-tcp-port 70000
  assert_failure 2
  assert_output --partial 'allow-tcp-port'
  run nexus-hub "${base[@]}" --secret-file "$T/hub.secret" --idle-timeout soon
  assert_failure 2
  run nexus-hub "${base[@]}" --secret-file "$T/hub.secret" --no-such-option
  assert_failure 2
  run nexus-hub "${base[@]}" --secret-file "$T/hub.secret" stray
  assert_failure 2
}

@test "start-up failures exit 1 with the reason" {
  base=(--listen 127.0.0.1:0 --key "$T/hub.key" --relay-socket "$T/s")
  run nexus-hub "${base[@]}" --cert "$T/missing.crt" --secret-file "$T/hub.secret"
  assert_failure 1
  assert_output --partial 'missing.crt'
  run nexus-hub "${base[@]}" --cert "$T/hub.crt" --secret-file "$T/missing.secret"
  assert_failure 1
  assert_output --partial 'missing.secret'
  nexus-token keygen -t es256 -o "$T/es.key" >/dev/null
  run nexus-hub "${base[@]}" --cert "$T/hub.crt" --secret-file "$T/es.key"
  assert_failure 1
  assert_output --partial 'not an HMAC secret'
  run nexus-hub "${base[@]}" --cert "$T/hub.crt" --verify-key "$T/hub.secret"
  assert_failure 1
  assert_output --partial 'not a public key'
  port=$(free_port)
  bg squatter python3 -c 'import socket,sys,time;s=socket.socket();s.bind(("127.0.0.1",int(sys.argv[1])));s.listen();time.sleep(30)' "$port"
  wait_port "$port"
  run timeout 20 nexus-hub --listen "127.0.0.1:$port" --cert "$T/hub.crt" --key "$T/hub.key" \
    --relay-socket "$T/s" --secret-file "$T/hub.secret"
  assert_failure 1
  assert_output --partial 'in use'
}

@test "options from --config and NEXUS_HUB_* variables" {
  port=$(free_port)
  printf 'listen 127.0.0.1:%s\ncert %s\n# a comment\nkey %s\nidle-timeout 2m\n' \
    "$port" "$T/hub.crt" "$T/hub.key" > "$T/hub.conf"
  NEXUS_HUB_SECRET_FILE="$T/hub.secret" NEXUS_HUB_RELAY_SOCKET="$T/env.sock" \
    bg hub nexus-hub --config "$T/hub.conf"
  HUB_PID=$BG_PID
  wait_port "$port"
  wait_log "$T/hub.log" "msg=listening backends=$port relay_socket=$T/env.sock"
  [ -S "$T/env.sock" ]
}

# a hub that verifies with a public key, and a backend whose tokens nexus-token signs
verify_key_hub() {
  local alg=$1
  nexus-token keygen -t "$alg" -o "$T/$alg.key" >/dev/null
  start_web plain
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --verify-key "$T/$alg.key.pub" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_relay
  start_fake signed --hostname app.test --target "127.0.0.1:$WEB_PORT" \
    --token-cmd "nexus-token issue -k '$T/$alg.key' --backend"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
  # an HS256 token made with some secret is not accepted by a public-key hub
  run timeout 20 "$HELPERS/fake-backend" --hub "127.0.0.1:$HUB_PORT" --ca "$T/hub.crt" \
    --secret "$T/hub.secret" --hostname evil.test
  assert_failure 3
}

@test "ES256 backend tokens with --verify-key" {
  verify_key_hub es256
}

@test "RS256 backend tokens with --verify-key" {
  verify_key_hub rs256
}

@test "tells systemd when it is ready and what it carries (NOTIFY_SOCKET)" {
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(10)
for _ in range(2):
    print(s.recv(4096).decode(), flush=True)
' "$T/notify.sock" > "$T/notify.out" &
  wait_file "$T/notify.sock"
  port=$(free_port)
  NOTIFY_SOCKET="$T/notify.sock" bg hub nexus-hub --listen "127.0.0.1:$port" \
    --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" --relay-socket "$T/s"
  wait_log "$T/notify.out" 'STATUS=backends=0 streams=0 routes=0'
  grep -q 'READY=1' "$T/notify.out"
}

@test "socket activation: the backend listener comes from systemd (LISTEN_FDS)" {
  command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
  HUB_PORT=$(free_port)
  bg hub systemd-socket-activate -l "127.0.0.1:$HUB_PORT" nexus-hub --cert "$T/hub.crt" \
    --key "$T/hub.key" --secret-file "$T/hub.secret" --relay-socket "$T/hub.sock" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  start_web plain
  start_relay
  start_fake activated --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output plain
}
