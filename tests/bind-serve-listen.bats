#!/usr/bin/env bats
# nexus-bind serve --listen: the same flow through the listener (a process per
# connection), and its per-source connection bound.
load lib/common
load lib/bind-serve

BIND_BACKEND=sqlite
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

# call_until STATUS ARGS...: call ARGS again (for 10 s at most) until it answers STATUS.
call_until() {
  local want=$1 i; shift
  for i in $(seq 100); do
    st=$(call "$@" || true)
    [ "$st" = "$want" ] && return 0
    sleep 0.1
  done
  echo "still $st, not $want" >&2
  return 1
}

@test "listener: pairing, claim, list, show, session, revoke, unbind, audit" {
  serve_keys
  start_serve listen
  scenario_serve_flow
  run cat "$T/serve.log"
  assert_line --regexp '^level=info msg=request method=POST path=/v1/claim status=201 who=-$'
  assert_line --regexp '^level=info msg=request method=GET path=/v1/devices status=200 who=alice$'
  refute_output --partial 'eyJ'   # no token in the log
}

@test "listener: one address holds at most --per-source connections; the others get 503" {
  serve_keys
  start_serve listen --per-source 1
  tok=$(user_token alice)
  exec 5<>"/dev/tcp/127.0.0.1/$SERVE_PORT"   # an idle connection holds the one slot
  # the listener counts it once it has accepted it: retry until the refusal shows
  call_until 503 GET /v1/devices -H "$(auth "$tok")"
  problem 503
  body_is '.detail == "too many connections from this address"'
  exec 5>&-
  call_until 200 GET /v1/devices -H "$(auth "$tok")"
}

@test "listener: fifty refusals in a row each get their 503, and the log counts them once a second" {
  serve_keys
  start_serve listen --per-source 1
  tok=$(user_token alice)
  exec 5<>"/dev/tcp/127.0.0.1/$SERVE_PORT"   # the one slot
  call_until 503 GET /v1/devices -H "$(auth "$tok")"
  local before t0 secs n=0
  before=$(wc -l < "$T/serve.log")
  t0=$(date +%s)
  for i in $(seq 50); do
    st=$(call GET /v1/devices -H "$(auth "$tok")" || true)
    [ "$st" = 503 ] && n=$((n + 1))
  done
  secs=$(( $(date +%s) - t0 + 1 ))
  [ "$n" = 50 ]
  sleep 1.2
  st=$(call GET /v1/devices -H "$(auth "$tok")" || true)
  [ "$st" = 503 ]
  tail -n +"$((before + 1))" "$T/serve.log" | grep 'msg=refused status=503' > "$T/refused.log" || true
  rate_limited "$T/refused.log" 51 "$secs" 1
  exec 5>&-
}

@test "listener: SIGTERM stops it" {
  serve_keys
  start_serve listen
  kill -TERM "$SERVE_PID"
  for i in $(seq 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
  run kill -0 "$SERVE_PID"
  assert_failure
}
