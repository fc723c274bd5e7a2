#!/usr/bin/env bats
# nexus-bind serve: who may do what. 401 without a usable credential, 403 without the
# endpoint's scope, another owner's device is invisible (404, as if it did not exist),
# API keys hold at most their creator's scopes and stop working when revoked.
load lib/common
load lib/bind-serve

BIND_BACKEND=sqlite
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

# alice owns dev-1
alice_device() {
  code=$(nexus-bind code --owner alice)
  nexus-bind claim "$code" --device dev-1 > /dev/null
}

@test "401: no token, a malformed, foreign, expired, revoked or wrong-audience token" {
  serve_keys
  start_serve listen
  run call GET /v1/devices
  assert_output 401
  problem 401
  [ "$(header WWW-Authenticate)" = 'Bearer realm="nexus-bind"' ]
  run call GET /v1/devices -H 'Authorization: Basic YTpi'
  assert_output 401
  run call GET /v1/devices -H "$(auth not.a.token)"
  assert_output 401
  body_is '.detail | startswith("invalid token")'
  nexus-token keygen -t es256 -o "$T/other.key"
  tok=$(nexus-token issue -k "$T/other.key" --sub alice --iss nexus-login --aud nexus-bind --ttl 1h --scope devices:read)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 401
  body_is '.detail | test("signature")'
  tok=$(echo '{"sub":"alice","exp":1000,"iss":"nexus-login","aud":"nexus-bind","scope":"devices:read"}' |
        nexus-token issue -k "$T/user.key" --claims - --ttl 0)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 401
  body_is '.detail == "invalid token: token expired"'
  tok=$(nexus-token issue -k "$T/user.key" --sub alice --iss nexus-login --aud elsewhere --ttl 1h --scope devices:read)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 401
  body_is '.detail | test("aud")'
  tok=$(user_token alice devices:read)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 200
  nexus-token revoke --deny-list "$NEXUS_DENY_LIST" "$tok"
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 401
  body_is '.detail | test("revoked")'
  run call GET /v1/devices -H "$(auth nxk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
  assert_output 401
  body_is '.detail == "unknown API key"'
}

@test "403: every endpoint checks its own scope" {
  serve_keys
  start_serve listen
  alice_device
  tok=$(user_token alice devices:read)
  for ep in "POST /v1/devices/dev-1/unbind" "POST /v1/devices/dev-1/revoke" \
            "POST /v1/pairing-codes" "GET /v1/api-keys" "POST /v1/api-keys" \
            "DELETE /v1/api-keys/0123456789abcdef" "GET /v1/audit" "POST /v1/devices/dev-1/session"; do
    run call ${ep% *} ${ep#* } -H "$(auth "$tok")"
    [ "$output" = 403 ] || { echo "$ep: $output"; return 1; }
    problem 403
  done
  run call GET /v1/devices/dev-1 -H "$(auth "$tok")"
  assert_output 200
  tok=$(user_token alice pairing)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 403
  body_is '.detail == "this credential lacks the scope devices:read"'
  tok=$(user_token alice "")
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 403
  # the device is untouched by all of that
  run nexus-bind show dev-1
  echo "$output" | jq -e '.bound and .owner == "alice"'
}

@test "another owner's device is invisible: 404 exactly like a device that does not exist" {
  serve_keys
  start_serve listen
  alice_device
  bob=$(user_token bob)
  run call GET /v1/devices -H "$(auth "$bob")"
  body_is '.devices == []'
  for ep in "GET /v1/devices/DEV" "POST /v1/devices/DEV/unbind" "POST /v1/devices/DEV/revoke"; do
    run call ${ep% *} "$(echo "${ep#* }" | sed s/DEV/dev-1/)" -H "$(auth "$bob")"
    assert_output 404
    jq -c 'del(.detail)' "$T/body" > "$T/theirs"
    run call ${ep% *} "$(echo "${ep#* }" | sed s/DEV/ghost/)" -H "$(auth "$bob")"
    assert_output 404
    jq -c 'del(.detail)' "$T/body" > "$T/none"
    diff "$T/theirs" "$T/none"
  done
  run call GET /v1/audit -H "$(auth "$bob")"
  body_is '.audit == []'
  run nexus-bind show dev-1
  echo "$output" | jq -e '.bound and .owner == "alice"'
  [ ! -s "$NEXUS_DENY_LIST" ]
}

@test "API keys: made with a subset of the creator's scopes, shown once, stored hashed, revocable" {
  serve_keys
  start_serve listen
  alice_device
  tok=$(user_token alice "devices:read keys audit")
  run call POST /v1/api-keys -H "$(auth "$tok")" -H "$JSON" -d '{"name":"grafana","scope":["devices:read"]}'
  assert_output 201
  body_is '(.key | test("^nxk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")) and .scope == "devices:read" and .name == "grafana"'
  [ "$(header Cache-Control)" = no-store ]
  key=$(jq -r .key "$T/body"); id=$(jq -r .id "$T/body")
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 200
  body_is '.devices[0].device == "dev-1"'
  run call GET /v1/audit -H "$(auth "$key")"
  assert_output 403
  # more than the creator holds: refused
  run call POST /v1/api-keys -H "$(auth "$tok")" -H "$JSON" -d '{"name":"x","scope":"devices:write"}'
  assert_output 403
  body_is '.detail | test("cannot grant scope devices:write")'
  # the listing never shows a secret; the store holds only a hash
  run call GET /v1/api-keys -H "$(auth "$tok")"
  assert_output 200

  jq -e --arg id "$id" '.keys | length == 1 and .[0].id == $id and (.[0] | has("key") | not)' "$T/body"
  secret=${key#nxk_*_} # the part after the id (base64url may hold "_" itself)
  run sql "SELECT * FROM api_keys"
  refute_output --partial "$secret"
  # bob cannot revoke it; alice can, once
  run call DELETE "/v1/api-keys/$id" -H "$(auth "$(user_token bob)")"
  assert_output 404
  run call DELETE "/v1/api-keys/$id" -H "$(auth "$tok")"
  assert_output 204
  run call DELETE "/v1/api-keys/$id" -H "$(auth "$tok")"
  assert_output 404
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 401
  body_is '.detail == "API key revoked"'
  # a tampered secret is unknown
  run call GET /v1/devices -H "$(auth "${key%?}A")"
  assert_output 401
  run call GET /v1/audit -H "$(auth "$tok")"
  body_is '[.audit[] | select(.action | startswith("api-key")) | [.action, .detail]] == [["api-key", "'"$id"'"], ["api-key-revoke", "'"$id"'"]]'
}

@test "unknown endpoints are 404, known ones with the wrong method 405" {
  serve_keys
  start_serve listen
  tok=$(user_token alice)
  run call GET /v1/nope -H "$(auth "$tok")"
  assert_output 404
  problem 404
  run call DELETE /v1/devices -H "$(auth "$tok")"
  assert_output 405
  problem 405
  run call GET /v1/devices/bad%20id -H "$(auth "$tok")"
  assert_output 404
}

@test "a token revoked mid-connection is refused on that same keep-alive connection" {
  serve_keys
  start_serve listen
  tok=$(user_token alice devices:read)
  run python3 - "$SERVE_PORT" "$tok" "$NEXUS_BINDIR/nexus-token" "$NEXUS_DENY_LIST" <<'PY'
import http.client, subprocess, sys
port, tok, nt, deny = sys.argv[1:]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
def get():
    c.request("GET", "/v1/devices", headers={"Authorization": "Bearer " + tok})
    r = c.getresponse(); r.read(); return r.status
print(get(), get())
subprocess.run([nt, "revoke", "--deny-list", deny, tok], check=True, capture_output=True)
print(get())
PY
  assert_success
  assert_output $'200 200\n401'
}

# ops_openapi / ops_man: "METHOD /path scope" (scope "-" for none) per documented operation,
# path parameters as {id}, sorted.
ops_openapi() {
  python3 - "$NEXUS_SRC/docs/openapi.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
ops = [f"{m.upper()} {p} {o.get('x-scope', '-')}" for p, v in d["paths"].items() for m, o in v.items()]
print("\n".join(sorted(ops)))
PY
}
ops_man() {
  # the endpoint entries of HTTP API: "*GET /v1/devices/*_ID_ [devices:read]", several
  # operations on one line, "(no credential)" for none
  grep -E '^\*(GET|POST|DELETE) /v1/' "$NEXUS_SRC/man/nexus-bind.1.scd" | python3 -c '
import re, sys
for line in sys.stdin:
    line = line.replace("*", "")
    line = re.sub(r"\[\?[^]]*\]", "", line)
    line = re.sub(r"_[A-Z]+_", "{id}", line)
    m = re.search(r"\[([a-z: ]+)\]\s*$", line)
    scope = m.group(1) if m else "-"
    for op in re.findall(r"(GET|POST|DELETE) (/v1/[^ ,\[(]*)", line):
        print(op[0], op[1], scope)' | sort
}

@test "the OpenAPI file, the man page and the server agree; each operation refuses a credential lacking its scope" {
  serve_keys
  start_serve listen
  alice_device
  run diff <(ops_openapi) <(ops_man)
  assert_success
  [ "$(ops_openapi | wc -l)" -ge 13 ]
  while read -r method path scope; do
    p=$(echo "$path" | sed -e 's|/api-keys/{id}|/api-keys/0123456789abcdef|' -e 's|{id}|dev-1|')
    if [ "$scope" = - ]; then
      # no credential needed: routed, answered, never 401/404/405
      st=$(call "$method" "$p" -H "$JSON" -d '{}')
      case $st in 401|404|405) echo "$method $path: $st"; return 1 ;; esac
      continue
    fi
    st=$(call "$method" "$p")
    [ "$st" = 401 ] || { echo "$method $path without a credential: $st"; return 1; }
    # every scope but this one
    tok=$(user_token alice "$(echo " $ALL_SCOPES " | sed "s| $scope | |")")
    st=$(call "$method" "$p" -H "$(auth "$tok")")
    [ "$st" = 403 ] || { echo "$method $path without $scope: $st"; cat "$T/body"; return 1; }
    problem 403
    body_is ".detail == \"this credential lacks the scope $scope\""
    # and with it, past the scope check (whatever the handler then says)
    st=$(call "$method" "$p" -H "$(auth "$(user_token alice "$scope")")")
    case $st in 401|403|405) echo "$method $path with $scope: $st"; cat "$T/body"; return 1 ;; esac
  done < <(ops_openapi)
}
