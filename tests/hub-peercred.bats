#!/usr/bin/env bats
# Only allowed users may hand connections to the hub: the relay socket is created with its
# mode and group from the start (--relay-socket-mode, --relay-socket-group), and each peer is
# checked with SO_PEERCRED / SO_PEERGROUPS against root, the hub's own uid, --relay-uid and
# --relay-group. A relay that is refused, by the file's rights or by the allow list, says so
# at error level, repeated at a bounded rate, and its clients get 503 at once.
# Two users: the hub as root (or as daemon), the relay as nobody (setpriv).
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain
  # nobody must be able to reach the socket's directory ($T is 0700)
  SOCKDIR=$(mktemp -d /tmp/nx-peercred.XXXXXX)
  chmod 755 "$SOCKDIR"
  SOCK="$SOCKDIR/hub.sock"
}

suite_teardown() {
  rm -rf "$SOCKDIR"
}

# hub_on SOCK [args]: start_hub with its relay socket at $SOCK
hub_on() {
  start_hub "$@"
  # start_hub's socket is $T/hub.sock: restart on ours
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
  HUB_PORT=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$SOCK" -v "$@"
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
}

# relay_run CMD...: CMD (nexus-relay, with a prefix or options) on a free port, handing
# everything to the hub at $SOCK
relay_run() {
  RELAY_PORT=$(free_port)
  bg relay "$@" --listen "127.0.0.1:$RELAY_PORT" --hub "$SOCK"
  RELAY_PID=$BG_PID
  wait_port "$RELAY_PORT"
}

# relay_as SETPRIV-ARGS...: nexus-relay as another user
relay_as() { relay_run setpriv "$@" -- nexus-relay; }

NOBODY=(--reuid nobody --regid nogroup --clear-groups)

@test "default: the socket is 0660, a relay running as nobody is refused and says so" {
  hub_on
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  [ "$(stat -c %a "$SOCK")" = 660 ]
  relay_as "${NOBODY[@]}"
  wait_log "$T/relay.log" '^level=error msg="hub refuses this relay".*Permission denied.*uid=65534'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 503
  sleep 3 # the relay redials every 2 s: still one error line, not one per attempt
  [ "$(grep -c 'hub refuses this relay' "$T/relay.log")" -eq 1 ]
  echo "# relay log after 3 s refused: $(wc -l < "$T/relay.log") lines" >&3
}

@test "a peer the socket's mode lets in but the allow list does not is refused by SO_PEERCRED" {
  hub_on --relay-socket-mode 0666
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  [ "$(stat -c %a "$SOCK")" = 666 ]
  relay_as "${NOBODY[@]}"
  wait_log "$T/hub.log" '^level=error msg="relay refused: peer not allowed" uid=65534 gid=65534'
  wait_log "$T/relay.log" '^level=error msg="hub refuses this relay".*allow list.*uid=65534'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 503
  sleep 3
  [ "$(grep -c 'relay refused' "$T/hub.log")" -eq 1 ]
  [ "$(grep -c 'hub refuses this relay' "$T/relay.log")" -eq 1 ]
  # it may have seen one connect succeed before the refusal came, never more
  [ "$(grep -c 'msg="hub connected"' "$T/relay.log")" -le 1 ]
}

@test "--relay-uid lets that user in" {
  hub_on --relay-socket-mode 0666 --relay-uid nobody
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  relay_as "${NOBODY[@]}"
  wait_log "$T/relay.log" 'msg="hub connected"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "--relay-group and --relay-socket-group: a shared group, as in the systemd units" {
  hub_on --relay-group users --relay-socket-group users
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  [ "$(stat -c '%a %G' "$SOCK")" = "660 users" ]
  # the relay is nobody with users as a supplementary group (SupplementaryGroups=nexus)
  relay_as --reuid nobody --regid nogroup --groups users
  wait_log "$T/relay.log" 'msg="hub connected"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "socket activation, two users: hub as daemon, relay as nobody, group users" {
  # the hub's files where daemon can read them, owned by it ($T's parents are 0700)
  cp "$T/hub.crt" "$T/hub.key" "$T/hub.secret" "$SOCKDIR/"
  chown daemon "$SOCKDIR" "$SOCKDIR/hub.crt" "$SOCKDIR/hub.key" "$SOCKDIR/hub.secret"
  HUB_PORT=$(free_port)
  bg hub systemd-socket-activate -l "127.0.0.1:$HUB_PORT" -- \
    setpriv --reuid daemon --regid daemon --groups users -- \
    nexus-hub --cert "$SOCKDIR/hub.crt" --key "$SOCKDIR/hub.key" \
    --secret-file "$SOCKDIR/hub.secret" --relay-socket "$SOCK" --relay-group users --relay-socket-group users -v
  HUB_PID=$BG_PID
  # systemd-socket-activate starts the program on the first connection
  wait_port "$HUB_PORT"
  wait_log "$T/hub.log" 'msg=listening'
  [ "$(stat -c '%U %G %a' "$SOCK")" = "daemon users 660" ]
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  RELAY_PORT=$(free_port)
  bg relay systemd-socket-activate -l "127.0.0.1:$RELAY_PORT" -- \
    setpriv --reuid nobody --regid nogroup --groups users -- nexus-relay --hub "$SOCK"
  RELAY_PID=$BG_PID
  wait_port "$RELAY_PORT"
  wait_log "$T/relay.log" 'msg="hub connected"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

# unit_env UNIT NAME: the value of Environment=NAME=... in scripts/systemd/UNIT
unit_env() { sed -n "s/^Environment=$2=//p" "$BATS_TEST_DIRNAME/../scripts/systemd/$1"; }

@test "the shipped units and nexus.sysusers agree, and their settings let the relay in" {
  local sd="$BATS_TEST_DIRNAME/../scripts/systemd" g mode
  g=$(unit_env nexus-hub.service NEXUS_HUB_RELAY_SOCKET_GROUP)
  mode=$(unit_env nexus-hub.service NEXUS_HUB_RELAY_SOCKET_MODE)
  [ -n "$g" ]
  [ "$(unit_env nexus-hub.service NEXUS_HUB_RELAY_GROUP)" = "$g" ]
  [ "$(unit_env nexus-hub.service NEXUS_HUB_RELAY_SOCKET)" = "$(unit_env nexus-relay.service NEXUS_RELAY_HUB)" ]
  grep -qx "SupplementaryGroups=$g" "$sd/nexus-hub.service"
  grep -qx "SupplementaryGroups=$g" "$sd/nexus-relay.service"
  # systemd-sysusers creates that group from the shipped file (into a scratch root)
  mkdir -p "$T/root/etc"
  systemd-sysusers --root "$T/root" "$sd/nexus.sysusers"
  grep -q "^$g:" "$T/root/etc/group"
  # The hub with the unit's settings (the group itself is 'users' here: this machine has
  # no 'nexus' group), and a relay that is another user in that group: it is let in.
  HUB_PORT=$(free_port)
  bg hub env NEXUS_HUB_RELAY_SOCKET_GROUP=users NEXUS_HUB_RELAY_GROUP=users     NEXUS_HUB_RELAY_SOCKET_MODE="$mode" NEXUS_HUB_RELAY_SOCKET="$SOCK"     nexus-hub --listen "127.0.0.1:$HUB_PORT" --cert "$T/hub.crt" --key "$T/hub.key"     --secret-file "$T/hub.secret" -v
  HUB_PID=$BG_PID
  wait_port "$HUB_PORT"
  [ "$(stat -c '%G %a' "$SOCK")" = "users ${mode#0}" ]
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  relay_as --reuid nobody --regid nogroup --groups users
  wait_log "$T/relay.log" 'msg="hub connected"'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "the relay's own --user nobody: refused at error level by default, served with a shared group" {
  # The case from the field: nexus-relay started as root, dropping to nobody itself after
  # binding. With the defaults the hub refuses it and the relay says so at error level.
  hub_on
  start_backend app --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  relay_run nexus-relay --user nobody
  wait_log "$T/relay.log" '^level=error msg="hub refuses this relay"'
  run relay_curl -o /dev/null -w '%{http_code}' "http://app.test:$RELAY_PORT/who"
  assert_output 503
  kill "$RELAY_PID" "$HUB_PID"; wait "$RELAY_PID" "$HUB_PID" 2>/dev/null || true
  # nobody's group shared by the socket file and the allow list: it serves.
  hub_on --relay-group nogroup --relay-socket-group nogroup
  start_backend app2 --hostname app.test --target "127.0.0.1:$WEB_PORT"
  wait_backends 1
  relay_run nexus-relay --user nobody
  wait_log "$T/hub.log" 'msg="relay connected" uid=65534'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_success
  assert_output plain
}

@test "an impostor listening on the hub's path in a directory anyone may write to gets no client" {
  # /tmp-like: root's, sticky, writable by all; nobody got there first and listens
  local dir; dir=$(mktemp -d /tmp/nx-impostor.XXXXXX)
  chmod 1777 "$dir"
  cat > "$dir/impostor.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(8)
print("listening", flush=True)
s.settimeout(60)
while True:
    c, _ = s.accept()
    print("a relay connected", flush=True)
    try:
        m = c.recvmsg(70000, 4096)
        if m[0] or m[1]:
            print("GOT A CLIENT", flush=True)
    except OSError:
        pass
PY
  chmod 644 "$dir/impostor.py"
  bg impostor setpriv "${NOBODY[@]}" -- /usr/bin/python3 -u "$dir/impostor.py" "$dir/hub.sock"
  wait_log "$T/impostor.log" '^listening'
  RELAY_PORT=$(free_port)
  bg relay nexus-relay --listen "127.0.0.1:$RELAY_PORT" --hub "$dir/hub.sock"
  wait_port "$RELAY_PORT"
  wait_log "$T/relay.log" '^level=error msg="hub socket held by an untrusted process".*uid 65534.*neither root, us, nor the owner of '
  run curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -H 'Cookie: secret=1' \
    --resolve "app.test:$RELAY_PORT:127.0.0.1" "http://app.test:$RELAY_PORT/"
  assert_output 503
  run grep -c 'GOT A CLIENT' "$T/impostor.log"
  assert_output 0
  sleep 3 # redials: still one line
  [ "$(grep -c 'untrusted process' "$T/relay.log")" -eq 1 ]
  rm -rf "$dir"
}

@test "bad values for the new options are usage errors" {
  for a in "--relay-uid no-such-user-x" "--relay-group no-such-group-x" \
           "--relay-socket-mode 999" "--relay-socket-mode 0" "--relay-socket-group no-such-group-x"; do
    run nexus-hub --listen 127.0.0.1:1 --cert "$T/hub.crt" --key "$T/hub.key" \
      --secret-file "$T/hub.secret" --relay-socket "$SOCK" $a
    assert_failure 2
    assert_output --partial -- "${a%% *}"
  done
}
