#!/usr/bin/env bats
# A second nexus-hub must not take the relay socket from a live one: it probes the path
# first and refuses to start (exit 1, one clear line); a stale socket left by a crashed hub
# is replaced; a path that is not a socket is refused and never deleted; and a hub removes
# the socket file at exit only if it is still the one it bound.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
}

# second_hub [relay socket]: a hub run in the foreground on a fresh port
second_hub() {
  nexus-hub --listen "127.0.0.1:$(free_port)" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "${1:-$T/hub.sock}"
}

@test "a second hub refuses to take over the live relay socket" {
  start_web plain
  start_hub
  start_relay
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  local ino; ino=$(stat -c %i "$T/hub.sock")
  run second_hub
  assert_failure 1
  assert_output --partial "another process is listening on it (not taken over)"
  assert_output --partial "$T/hub.sock"
  [ "${#lines[@]}" -eq 1 ]
  # the first hub's socket is untouched and new relays still reach it
  [ "$(stat -c %i "$T/hub.sock")" = "$ino" ]
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  RELAY_PORT=; start_relay
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "a stale socket (its hub is gone) is replaced" {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$T/hub.sock"
  [ -S "$T/hub.sock" ]
  start_hub
  wait_log "$T/hub.log" 'msg=listening'
  # it is a live socket now: probing it connects
  run second_hub
  assert_failure 1
  assert_output --partial "not taken over"
}

@test "a path that is not a socket is refused and left alone" {
  echo "precious" > "$T/hub.sock"
  run second_hub
  assert_failure 1
  assert_output --partial "exists and is not a socket (not replaced)"
  run cat "$T/hub.sock"
  assert_output precious
}

@test "at exit a hub removes its socket only if the path is still its own" {
  start_hub
  kill -TERM "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  [ ! -e "$T/hub.sock" ]
  # a hub whose file was replaced (by an operator, another hub) leaves the new one alone
  start_hub
  rm "$T/hub.sock"
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$T/hub.sock"
  local ino; ino=$(stat -c %i "$T/hub.sock")
  kill -TERM "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  [ -S "$T/hub.sock" ]
  [ "$(stat -c %i "$T/hub.sock")" = "$ino" ]
}
