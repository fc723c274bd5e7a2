# Helpers for the nexus-bind serve suites (tests/bind-serve-*.bats): a user-token key, the
# server under systemd-socket-activate --inetd or as a --listen listener, and curl calls
# that keep status, headers and body apart.
#   BIND_BACKEND=sqlite|pg as in tests/lib/bind.bash (which this loads).
load lib/bind

# serve_keys: $T/user.key (ES256) whose public half the server verifies user tokens with.
serve_keys() {
  nexus-token keygen -t es256 -o "$T/user.key"
  nexus-token keygen -t es256 -o "$T/grant.key"   # signs browser-session grants
}

ALL_SCOPES="devices:read devices:write pairing keys audit sessions"

# user_token SUB [SCOPES] [more nexus-token issue options]: a user token, as nexus-token
# login -k would mint it.
user_token() {
  local sub=$1 scope=${2-$ALL_SCOPES}
  shift; [ $# -gt 0 ] && shift
  nexus-token issue -k "$T/user.key" --sub "$sub" --iss nexus-login --aud nexus-bind \
    --ttl 1h --jti auto ${scope:+--scope "$scope"} "$@"
}

# start_serve inetd|listen [serve options]: start it, set API (its base URL) and SERVE_PID.
start_serve() {
  local mode=$1; shift
  SERVE_PORT=$(free_port)
  local common=(--db "$NEXUS_DB" --key "$NEXUS_BIND_KEY" --deny-list "$NEXUS_DENY_LIST"
                serve --verify-key "$T/user.key.pub" --iss nexus-login --aud nexus-bind "$@")
  [ -e "$T/grant.key" ] && common+=(--grant-key "$T/grant.key" --host '{device}.ui.test')
  if [ "$mode" = inetd ]; then
    bg serve systemd-socket-activate -l "127.0.0.1:$SERVE_PORT" --inetd -a \
      "$NEXUS_BINDIR/nexus-bind" "${common[@]}"
  else
    bg serve nexus-bind "${common[@]}" --listen "127.0.0.1:$SERVE_PORT"
  fi
  SERVE_PID=$BG_PID
  API="http://127.0.0.1:$SERVE_PORT"
  # its own line, not a probe connection: under inetd a probe spawns a server process of
  # its own, which would still be starting (opening the database) beside the test's first
  if [ "$mode" = inetd ]; then
    own_listener "$SERVE_PID" "$T/serve.log" "Listening on 127.0.0.1:$SERVE_PORT"
  else
    own_listener "$SERVE_PID" "$T/serve.log" "msg=listening addr=127.0.0.1:$SERVE_PORT"
  fi || { echo "nexus-bind serve did not start:" >&2; cat "$T/serve.log" >&2; return 1; }
}

# call METHOD PATH [curl options]: prints the status code; body in $T/body, headers in
# $T/headers.
call() {
  local m=$1 p=$2; shift 2
  curl -sS --max-time 30 -X "$m" -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "$API$p"
}
auth() { echo "Authorization: Bearer $1"; }
JSON='Content-Type: application/json'

# body_is JQ-FILTER: the last response body satisfies the filter.
body_is() { jq -e "$1" "$T/body" >/dev/null || { cat "$T/body" >&2; return 1; }; }
# problem STATUS: the last response is application/problem+json with that status.
problem() {
  grep -qi '^content-type: application/problem+json' "$T/headers" || { cat "$T/headers" >&2; return 1; }
  body_is ".status == $1 and .title != null and (.detail | type) == \"string\""
}
header() { grep -i "^$1:" "$T/headers" | cut -d' ' -f2- | tr -d '\r'; }

# The whole owner's journey through the API: pairing code → claim by the device → list
# and show (with the ingested state) → a browser session (and its end) → revoke and unbind, every
# change in the audit trail with the peer's address.
scenario_serve_flow() {
  local tok code jti
  tok=$(user_token alice)
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{"scope":["tunnel","telemetry"],"ttl":"2m"}'
  assert_output 201
  body_is '(.code | test("^[0-9A-Z]{4}-[0-9A-Z]{4}$")) and .owner == "alice"
           and .scope == "tunnel telemetry" and (.qr_svg | startswith("<svg"))'
  code=$(jq -r .code "$T/body")
  # the device claims with the code alone
  run call POST /v1/claim -H "$JSON" -d "{\"code\":\"$code\",\"device\":\"dev-1\"}"
  assert_output 201
  body_is '.sub == "dev-1" and .owner == "alice" and .scope == "tunnel telemetry"'
  jti=$(jq -r .jti "$T/body")
  run call POST /v1/claim -H "$JSON" -d "{\"code\":\"$code\",\"device\":\"dev-2\"}"
  assert_output 403
  problem 403
  body_is '.detail == "pairing code already used"'
  echo '{"id":"dev-1","temp":21.5}' | nexus-bind ingest 2>/dev/null
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 200
  body_is '.devices | length == 1 and .[0].device == "dev-1" and (.[0].last_seen | type) == "number"'
  run call GET /v1/devices/dev-1 -H "$(auth "$tok")"
  assert_output 200
  jq -e --arg j "$jti" '.owner == "alice" and .state.temp == 21.5 and .tokens[0].jti == $j' "$T/body"
  run call POST /v1/devices/dev-1/session -H "$(auth "$tok")"
  assert_output 201
  body_is '(.url | startswith("https://dev-1.ui.test/?nx=")) and .user == "alice"
           and .device == "dev-1" and .host == "dev-1.ui.test"
           and .grant_expires_at - now < 61 and .expires_at > .grant_expires_at'
  [ "$(header cache-control)" = no-store ]
  local url sid
  url=$(jq -r .url "$T/body"); sid=$(jq -r .session "$T/body")
  run nexus-token verify -k "$T/grant.key.pub" --iss nexus-bind --aud dev-1.ui.test "${url#*nx=}"
  assert_success
  jq -e --arg s "$sid" '.typ == "nx-grant" and .sub == "alice" and .dev == "dev-1" and .sid == $s' <<<"$output"
  # another owner's device is not there for bob, and an unknown one neither
  run call POST /v1/devices/dev-1/session -H "$(auth "$(user_token bob)")"
  assert_output 404
  run call POST /v1/devices/nope/session -H "$(auth "$tok")"
  assert_output 404
  # ending it puts it on the signed revocation list (no credential needed to read it)
  run call POST "/v1/sessions/$sid/end" -H "$(auth "$tok")"
  assert_output 200
  run call POST "/v1/sessions/$sid/end" -H "$(auth "$tok")"
  assert_output 404
  run call GET /v1/revocations
  assert_output 200
  run nexus-token verify -k "$T/grant.key.pub" --iss nexus-bind "$(cat "$T/body")"
  jq -e --arg s "$sid" '.typ == "nx-revocations" and (.revoked | index($s)) != null' <<<"$output"
  run call POST /v1/devices/dev-1/revoke -H "$(auth "$tok")"
  assert_output 200
  jq -e --arg j "$jti" '.device == "dev-1" and .revoked == [$j]' "$T/body"
  grep -q "^$jti " "$NEXUS_DENY_LIST"
  run call GET /v1/devices -H "$(auth "$tok")"
  body_is '.devices == []'
  # a second device, unbound this time
  code=$(nexus-bind code --owner alice)
  run call POST /v1/claim -H "$JSON" -d "{\"code\":\"$code\",\"device\":\"dev-2\",\"pubkey\":\"PEM\"}"
  assert_output 201
  run call POST /v1/devices/dev-2/unbind -H "$(auth "$tok")"
  assert_output 200
  run call POST /v1/devices/dev-2/unbind -H "$(auth "$tok")"
  assert_output 404
  run call GET /v1/audit -H "$(auth "$tok")"
  assert_output 200
  body_is '[.audit[].action] == ["code", "claim", "session", "session-end", "revoke", "code", "claim", "unbind"]'
  body_is '[.audit[] | select(.action != "code" or .actor == "alice") | .origin] | all(. == "127.0.0.1")'
  body_is '[.audit[] | select(.action == "claim") | .actor] == ["device:dev-1", "device:dev-2"]'
  # and in the store itself: the failed claim too
  run sql "SELECT action FROM audit ORDER BY id"
  assert_output $'code\nclaim\nclaim-failed\nsession\nsession-end\nrevoke\ncode\nclaim\nunbind'
}
