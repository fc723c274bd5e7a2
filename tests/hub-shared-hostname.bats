#!/usr/bin/env bats
# Two backends for one hostname: the hub shares its clients between them, which is right for
# replicas (same sub) and wrong when one is somebody's stale tunnel. The hub warns, naming
# both; with --exclusive-hostnames it refuses the second sub with 1008 naming the hostname.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one; ONE=$WEB_PORT
  start_web two; TWO=$WEB_PORT
}

@test "a hostname gaining a backend with another sub: a warning naming both, both serve" {
  start_hub
  start_relay
  start_tunnel alice --hostname app.test --to "127.0.0.1:$ONE"
  wait_backends 1
  start_tunnel bob --hostname app.test --hostname bob.test --to "127.0.0.1:$TWO"
  wait_backends 2
  run grep 'msg="hostname shared by different backends"' "$T/hub.log"
  assert_success
  assert_output --partial 'level=warn'
  assert_output --partial 'hostname=app.test backend=bob other=alice'
  refute_output --partial bob.test
  # both get clients (round robin)
  for i in 1 2 3 4; do relay_curl "http://app.test:$RELAY_PORT/who"; echo; done > "$T/who"
  grep -qx one "$T/who"
  grep -qx two "$T/who"
}

@test "replicas (same sub) share a hostname without a warning" {
  start_hub
  start_tunnel web --hostname app.test --to "127.0.0.1:$ONE"
  start_tunnel web --hostname app.test --to "127.0.0.1:$TWO"
  wait_backends 2
  run grep -c 'hostname shared' "$T/hub.log"
  assert_output 0
}

@test "--exclusive-hostnames: a second sub is refused with 1008 naming the hostname, the holder keeps it" {
  start_hub --exclusive-hostnames
  start_relay
  start_tunnel alice --hostname app.test --to "127.0.0.1:$ONE"
  wait_backends 1
  run timeout 20 nexus-tunnel --hub "wss://127.0.0.1:$HUB_PORT/connect" --servername localhost \
    --cafile "$T/hub.crt" --secret-file "$T/hub.secret" --name bob --hostname app.test \
    --to "127.0.0.1:$TWO"
  assert_failure 1
  assert_output --partial 'hub refused authentication (1008: hostname app.test is held by another backend)'
  assert_output --partial 'pick another name or stop the other tunnel'
  run grep 'msg="hostname held by another backend"' "$T/hub.log"
  assert_output --partial 'hostname=app.test backend=bob held_by=alice'
  run relay_curl "http://app.test:$RELAY_PORT/who"
  assert_output one
  # the same sub again is a replica, not a stranger: accepted
  start_tunnel alice --hostname app.test --to "127.0.0.1:$ONE"
  wait_backends 2
}

@test "--exclusive-hostnames: a name freed by its holder can be taken by another sub" {
  start_hub --exclusive-hostnames
  start_tunnel alice --hostname app.test --to "127.0.0.1:$ONE"
  APID=$BG_PID
  wait_backends 1
  kill -TERM "$APID"
  wait_log "$T/hub.log" 'msg="backend session ended"' 1 15
  start_tunnel bob --hostname app.test --to "127.0.0.1:$TWO" --retry
  wait_backends 2
}
