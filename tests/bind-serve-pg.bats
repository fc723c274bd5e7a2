#!/usr/bin/env bats
# nexus-bind serve --listen on PostgreSQL (scripts/pg-temp): the same owner's journey as
# tests/bind-serve-listen.bats, every query on the other dialect.
load lib/common
load lib/bind-serve

BIND_BACKEND=pg
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

@test "PostgreSQL: pairing, claim, list, show, session, revoke, unbind, audit" {
  serve_keys
  start_serve listen
  scenario_serve_flow
}

@test "PostgreSQL: rate limit and API keys" {
  serve_keys
  start_serve listen --rate 2
  tok=$(user_token alice)
  run call POST /v1/api-keys -H "$(auth "$tok")" -H "$JSON" -d '{"name":"k","scope":"devices:read"}'
  assert_output 201
  key=$(jq -r .key "$T/body")
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 200
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 200
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 429
  [ "$(header RateLimit-Remaining)" = 0 ]
}
