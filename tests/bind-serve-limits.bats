#!/usr/bin/env bats
# nexus-bind serve: what a client can make it hold or do is bounded, and every refusal is
# application/problem+json: the rate per token / key (RateLimit-* headers, 429 with
# Retry-After), body size (413), head size (431), malformed JSON (400), the wrong media
# type (415), chunked bodies (411), broken HTTP (400, 505). The server carries on after
# each.
load lib/common
load lib/bind-serve

BIND_BACKEND=sqlite
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

@test "rate: --rate requests per minute per token, then 429 with headers; other credentials unaffected" {
  serve_keys
  start_serve listen --rate 3
  tok=$(user_token alice)
  for left in 2 1 0; do
    run call GET /v1/devices -H "$(auth "$tok")"
    assert_output 200
    [ "$(header RateLimit-Limit)" = 3 ]
    [ "$(header RateLimit-Remaining)" = "$left" ]
    [ "$(header RateLimit-Policy)" = '3;w=60' ]
    reset=$(header RateLimit-Reset)
    [ "$reset" -ge 1 ] && [ "$reset" -le 60 ]
  done
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 429
  problem 429
  [ "$(header RateLimit-Remaining)" = 0 ]
  retry=$(header Retry-After)
  [ "$retry" -ge 1 ] && [ "$retry" -le 60 ]
  # another token of the same user, and an API key, have budgets of their own
  tok2=$(user_token alice)
  run call POST /v1/api-keys -H "$(auth "$tok2")" -H "$JSON" -d '{"name":"k","scope":["devices:read"]}'
  assert_output 201
  key=$(jq -r .key "$T/body")
  run call GET /v1/devices -H "$(auth "$key")"
  assert_output 200
  [ "$(header RateLimit-Remaining)" = 2 ]
  # an unauthenticated request is not counted against anyone
  run call GET /v1/devices
  assert_output 401
  # windows of credentials quiet for an hour are dropped when a new window starts
  sql "INSERT INTO rate(name, window_start, count) VALUES('api:tok:long-gone', 1000, 5)"
  run call GET /v1/devices -H "$(auth "$(user_token carol)")"
  assert_output 200
  run sql "SELECT count(*) FROM rate WHERE name = 'api:tok:long-gone'"
  assert_output 0
}

@test "bodies: oversized (413), malformed JSON and non-objects (400), wrong media type (415), chunked (411)" {
  serve_keys
  start_serve listen --max-body 1K
  tok=$(user_token alice)
  head -c 5000 /dev/zero | tr '\0' ' ' > "$T/big"
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" --data-binary @"$T/big"
  assert_output 413
  problem 413
  body_is '.detail == "request body over 1024 bytes"'
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{"scope": ['
  assert_output 400
  problem 400
  body_is '.detail | startswith("malformed JSON")'
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '[1,2]'
  assert_output 400
  body_is '.detail == "the body must be a JSON object"'
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{"ttl":1,"ttl":2}'
  assert_output 400
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{"ttl":"forever"}'
  assert_output 400
  body_is '.detail | test("ttl")'
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{"scope":["has space"]}'
  assert_output 400
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H 'Content-Type: text/plain' -d '{}'
  assert_output 415
  problem 415
  run call POST /v1/claim -H "$JSON" -d '{"code":"0000-0000"}'
  assert_output 400
  body_is '.detail | test("device")'
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -H 'Transfer-Encoding: chunked' -d '{}'
  assert_output 411
  problem 411
  # nothing of that made a code
  run sql "SELECT count(*) FROM codes"
  assert_output 0
  run call POST /v1/pairing-codes -H "$(auth "$tok")" -H "$JSON" -d '{}'
  assert_output 201
}

@test "broken HTTP: garbage, an oversized head, HTTP/2.0, smuggling shapes; each answered, the server lives" {
  serve_keys
  start_serve listen
  # one connection: send the bytes, print what comes back until the server closes
  raw() {
    (exec 6<>"/dev/tcp/127.0.0.1/$SERVE_PORT"; printf "$1" >&6; timeout 20 cat <&6) | tr -d '\r'
  }
  run raw 'GARBAGE\x01\r\n\r\n'
  assert_line 'HTTP/1.1 400 Bad Request'
  assert_line 'Content-Type: application/problem+json'
  assert_line 'Connection: close'
  run raw 'GET /v1/devices HTTP/2.0\r\n\r\n'
  assert_line 'HTTP/1.1 505 HTTP Version Not Supported'
  run raw 'POST /v1/claim HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'
  assert_line 'HTTP/1.1 400 Bad Request'
  assert_output --partial 'conflicting Content-Length'
  run raw 'POST /v1/claim HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}'
  assert_line 'HTTP/1.1 400 Bad Request'
  run raw 'GET /v1/devices HTTP/1.1\r\nX: a\r\n folded\r\n\r\n'
  assert_line 'HTTP/1.1 400 Bad Request'
  run raw "GET /v1/devices HTTP/1.1\r\nX: $(head -c 20000 /dev/zero | tr '\0' a)\r\n\r\n"
  assert_line 'HTTP/1.1 431 Request Header Fields Too Large'
  # curl's request still works afterwards
  tok=$(user_token alice)
  run call GET /v1/devices -H "$(auth "$tok")"
  assert_output 200
}

@test "a user holds at most 20 live pairing codes" {
  serve_keys
  start_serve listen
  tok=$(user_token alice)
  for i in $(seq 20); do
    st=$(call POST /v1/pairing-codes -H "$(auth "$tok")")
    [ "$st" = 201 ]
  done
  run call POST /v1/pairing-codes -H "$(auth "$tok")"
  assert_output 429
  problem 429
  run call POST /v1/pairing-codes -H "$(auth "$(user_token bob)")"
  assert_output 201
}

@test "a client that stops half-way through its request is answered 408 and let go" {
  serve_keys
  start_serve listen --idle-timeout 1s
  run bash -c "exec 6<>/dev/tcp/127.0.0.1/$SERVE_PORT; printf 'GET /v1/dev' >&6; timeout 20 cat <&6 | tr -d '\r'"
  assert_line 'HTTP/1.1 408 Request Timeout'
  assert_line 'Connection: close'
  # a silent connection is simply closed, without an answer
  run bash -c "exec 6<>/dev/tcp/127.0.0.1/$SERVE_PORT; timeout 20 cat <&6"
  assert_success
  assert_output ''
}
