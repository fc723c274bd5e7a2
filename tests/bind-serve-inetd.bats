#!/usr/bin/env bats
# nexus-bind serve under systemd-socket-activate --inetd (a process per connection, the
# connection on stdin/stdout, as a nexus-bind-api@.service would run): the whole
# pairing → claim → list → revoke flow with curl, on SQLite.
load lib/common
load lib/bind-serve

BIND_BACKEND=sqlite
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

@test "inetd: pairing, claim, list, show, session, revoke, unbind, audit" {
  command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
  serve_keys
  start_serve inetd
  scenario_serve_flow
}

@test "inetd: keep-alive carries several requests on one connection, Connection: close ends it" {
  command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
  serve_keys
  start_serve inetd
  tok=$(user_token alice)
  run curl -sS --max-time 30 -H "$(auth "$tok")" "$API/v1/devices" "$API/v1/devices" "$API/v1/api-keys"
  assert_success
  assert_output $'{"devices":[]}\n{"devices":[]}\n{"keys":[]}'
  # curl -v says whether the connection was reused
  run curl -sv --max-time 30 -H "$(auth "$tok")" "$API/v1/devices" "$API/v1/devices"
  assert_output --partial 'Re-using existing connection'
  run curl -sS --max-time 30 -i -H 'Connection: close' -H "$(auth "$tok")" "$API/v1/devices"
  assert_output --partial 'Connection: close'
}
