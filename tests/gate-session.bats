#!/usr/bin/env bats
# Browser sessions through the gate in nexus-tunnel, walked with curl: nexus-bind session's
# one-time URL → 303 + __Host-nx cookie → the device's page; then every refusal (reused,
# expired, foreign code; another session's cookie; Host/SNI mismatch; cross-origin POST; no
# cookie as HTML or 401). The device UI records what it receives: our cookie never gets
# there. A non-gated host on the same tunnel is passed through untouched, and relay and hub
# only ever see TLS.
load lib/common
load lib/tunnel
load lib/gate

suite_setup() {
  gate_stack
}

# Open URL, keep the response headers in $T/$2.h; the cookie in COOKIE.
open_session() {
  gcurl -o /dev/null -D "$T/$2.h" "$1"
  COOKIE=$(cookie_of "$T/$2.h")
}

@test "the session URL answers 303 to the URL without nx and sets the __Host-nx cookie" {
  url=$(session_url alice dev1)
  [[ "$url" == "https://dev1.ui.test/?nx="* ]]
  run gcurl -o /dev/null -D - "https://dev1.ui.test/headers?lang=en&nx=${url#*nx=}"
  assert_success
  assert_line --partial 'HTTP/1.1 303'
  assert_line --regexp '^Location: /headers\?lang=en'
  assert_line --regexp '^Set-Cookie: __Host-nx=[^;]+; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=[0-9]+'
  grep -q 'gate: session started.*user=alice device=dev1' "$T/tunnel-gate.log"
}

@test "with the cookie the page comes from the device, without our cookie, with the user" {
  open_session "$(session_url alice dev1)" a
  [ -n "$COOKIE" ]
  run gcurl -H "Cookie: theme=dark; __Host-nx=$COOKIE; lang=en" https://dev1.ui.test/headers
  assert_success
  assert_line 'Cookie: theme=dark; lang=en'
  assert_line 'X-Nexus-User: alice'
  assert_line 'X-Forwarded-Proto: https'
  # the UI's own record of every request: the cookie name and value never arrived
  run grep -c . "$UI_LOG"
  [ "$output" -ge 1 ]
  run grep -e '__Host-nx' -e "$COOKIE" "$UI_LOG"
  assert_failure
  # a spoofed user header from the browser is dropped
  run gcurl -H "Cookie: __Host-nx=$COOKIE" -H 'X-Nexus-User: root' https://dev1.ui.test/headers
  assert_line 'X-Nexus-User: alice'
  refute_line 'X-Nexus-User: root'
}

@test "keep-alive and pipelined requests, a chunked 5 MB upload and a Content-Length one" {
  open_session "$(session_url alice dev1)" a
  head -c 5000000 /dev/urandom > "$T/big"
  want=$(sha256sum < "$T/big" | cut -d' ' -f1)
  run gcurl -H "Cookie: __Host-nx=$COOKIE" -H 'Origin: https://dev1.ui.test' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" https://dev1.ui.test/upload
  assert_success
  assert_output "$want 5000000"
  run gcurl -H "Cookie: __Host-nx=$COOKIE" -H 'Origin: https://dev1.ui.test' \
    --data-binary @"$T/big" https://dev1.ui.test/upload
  assert_output "$want 5000000"
  # three requests on one connection (curl reuses it: one connect)
  run gcurl -H "Cookie: __Host-nx=$COOKIE" -w '%{num_connects}\n' -o /dev/null \
    https://dev1.ui.test/sub/1.svg -o /dev/null https://dev1.ui.test/sub/2.svg \
    -o /dev/null https://dev1.ui.test/sub/3.svg
  assert_success
  assert_output $'1\n0\n0'
  # pipelined: two requests written at once, two answers in order
  printf 'GET /sub/7.svg HTTP/1.1\r\nHost: dev1.ui.test\r\nCookie: __Host-nx=%s\r\n\r\nGET /headers HTTP/1.1\r\nHost: dev1.ui.test\r\nCookie: __Host-nx=%s\r\nConnection: close\r\n\r\n' \
    "$COOKIE" "$COOKIE" > "$T/pipe"
  run bash -c "openssl s_client -quiet -connect 127.0.0.1:$RELAY_PORT -servername dev1.ui.test \
    -CAfile '$T/ca.crt' < '$T/pipe' 2>/dev/null"
  [ "$(grep -o 'HTTP/1.1 200' <<<"$output" | wc -l)" -eq 2 ]
  assert_line --partial '<svg'
  assert_line --partial 'X-Nexus-User: alice'
}

@test "a code works once: the second use is refused" {
  url=$(session_url alice dev1)
  run gcurl -o /dev/null -w '%{http_code}\n' "$url"
  assert_output 303
  run gcurl -w '\n%{http_code}\n' "$url"
  assert_line 403
  assert_output --partial 'This link is not valid'
  grep -q 'gate: refused.*already used' "$T/tunnel-gate.log"
}

@test "an expired code is refused" {
  # a grant signed like nexus-bind's, for one second
  code=$(nexus-token issue -k "$T/grant.key" --iss nexus-bind --aud dev1.ui.test --sub alice \
    --ttl 1s --claim 'typ="nx-grant"' --claim 'dev="dev1"' --claim 'sid="s-1"' \
    --claim "sexp=$(( $(date +%s) + 600 ))")
  sleep 7   # past exp and the gate's 5 s leeway
  run gcurl -o /dev/null -w '%{http_code}\n' "https://dev1.ui.test/?nx=$code"
  assert_output 403
  grep -q 'reason="grant refused: token expired' "$T/tunnel-gate.log"
}

@test "a code for another device (or host) is refused" {
  url=$(session_url bob dev2)
  [[ "$url" == https://dev2.ui.test/* ]]
  run gcurl -o /dev/null -w '%{http_code}\n' "${url/dev2.ui.test/dev1.ui.test}"
  assert_output 403
  grep -q 'grant refused: .*aud' "$T/tunnel-gate.log"
  # bob cannot ask for alice's device at all, and a key that is not nexus-bind's is refused
  run session_url bob dev1
  assert_failure
  assert_output --partial 'no device dev1 bound to bob'
  nexus-token keygen -t es256 -o "$T/other.key" >/dev/null
  code=$(nexus-token issue -k "$T/other.key" --iss nexus-bind --aud dev1.ui.test --sub alice \
    --ttl 30s --claim 'typ="nx-grant"' --claim 'dev="dev1"' --claim 'sid="s-2"' \
    --claim "sexp=$(( $(date +%s) + 600 ))")
  run gcurl -o /dev/null -w '%{http_code}\n' "https://dev1.ui.test/?nx=$code"
  assert_output 403
}

@test "another user's session cookie is refused" {
  open_session "$(session_url bob dev2)" b
  [ -n "$COOKIE" ]
  run gcurl -o /dev/null -w '%{http_code}\n' -H "Cookie: __Host-nx=$COOKIE" https://dev2.ui.test/headers
  assert_output 200
  run gcurl -w '\n%{http_code}\n' -H 'Accept: application/json' -H "Cookie: __Host-nx=$COOKIE" \
    https://dev1.ui.test/headers
  assert_line 401
  grep -q 'gate: no session.*session refused: .*aud' "$T/tunnel-gate.log"
  # a cookie with a changed byte, too (inside the signature: the last base64url character
  # carries padding bits a decoder may ignore, so it is not the one changed)
  local n=$(( ${#COOKIE} - 10 )) c=${COOKIE:$(( ${#COOKIE} - 10 )):1} d=A
  [ "$c" = A ] && d=B
  run gcurl -o /dev/null -w '%{http_code}\n' -H "Cookie: __Host-nx=${COOKIE:0:n}${d}${COOKIE:n+1}" https://dev2.ui.test/headers
  assert_output 401
}

@test "Host must equal the TLS server name" {
  open_session "$(session_url alice dev1)" a
  run gcurl -w '\n%{http_code}\n' -H 'Host: dev2.ui.test' -H "Cookie: __Host-nx=$COOKIE" \
    https://dev1.ui.test/headers
  assert_line 421
  run grep -c . "$UI_LOG"
  assert_output 0
}

@test "a cross-origin POST is refused, a same-origin one goes through" {
  open_session "$(session_url alice dev1)" a
  run gcurl -w '\n%{http_code}\n' -H "Cookie: __Host-nx=$COOKIE" -H 'Origin: https://evil.test' \
    -d x=1 https://dev1.ui.test/upload
  assert_line 403
  assert_output --partial 'cross-origin request refused'
  run gcurl -w '\n%{http_code}\n' -H "Cookie: __Host-nx=$COOKIE" -d x=1 https://dev1.ui.test/upload
  assert_line 403
  run grep -c '"POST"' "$UI_LOG"
  assert_output 0
  run gcurl -w '\n%{http_code}\n' -H "Cookie: __Host-nx=$COOKIE" -H 'Origin: https://dev1.ui.test' \
    -d x=1 https://dev1.ui.test/upload
  assert_line 200
  # a WebSocket upgrade from another origin is refused the same way
  run gcurl -o /dev/null -w '%{http_code}\n' -H "Cookie: __Host-nx=$COOKIE" -H 'Origin: https://evil.test' \
    -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' https://dev1.ui.test/ws
  assert_output 403
}

@test "no session: a page load gets the HTML page, an XHR gets 401 problem+json" {
  run gcurl -D "$T/h" -H 'Accept: text/html,application/xhtml+xml' -H 'Sec-Fetch-Mode: navigate' \
    https://dev1.ui.test/
  assert_output --partial 'This session has ended'
  grep -q '^HTTP/1.1 401' "$T/h"
  grep -qi '^Content-Type: text/html' "$T/h"
  run gcurl -D "$T/h" -H 'Accept: */*' -H 'Sec-Fetch-Mode: cors' https://dev1.ui.test/headers
  assert_output --partial '"status":401'
  grep -qi '^Content-Type: application/problem+json' "$T/h"
  run grep -c . "$UI_LOG"
  assert_output 0
}

@test "a non-gated host on the same tunnel passes through untouched; relay and hub see TLS only" {
  run relay_curl "https://app.test:$RELAY_PORT/who"
  assert_success
  assert_output secure
  open_session "$(session_url alice dev1)" a
  gcurl -H "Cookie: __Host-nx=$COOKIE" https://dev1.ui.test/headers >/dev/null
  ! grep -q 'app.test' <(grep 'gate' "$T/tunnel-gate.log")
  # the hub routed both as streams; neither it nor the relay logged a byte of HTTP
  grep -q 'msg="stream open".*route=app.test' "$T/hub.log"
  grep -q 'msg="stream open".*route=dev1.ui.test' "$T/hub.log"
  run grep -l -e "$COOKIE" -e 'X-Nexus' -e '__Host-nx' -e 'GET /' "$T/hub.log" "$T/relay.log"
  assert_failure
  # nor their memory: the request and the cookie exist in plaintext only inside the gate
  # (the scan finds them there while a slow upload holds the request open, so it would
  # find them in the hub or relay too)
  # (not under ASan or TSan: their shadow and allocator maps are terabytes of address space)
  if ldd "$(command -v nexus-hub)" | grep -qE 'libasan|libtsan'; then
    echo "# memory scan skipped under a sanitizer" >&3
    return 0
  fi
  head -c 3000000 /dev/zero > "$T/upload"
  gcurl -o /dev/null --limit-rate 200K -H "Cookie: __Host-nx=$COOKIE" \
    -H 'Origin: https://dev1.ui.test' -H 'X-Probe: plaintext-probe-7f3a' \
    -T "$T/upload" https://dev1.ui.test/upload &
  UP=$!
  sleep 2
  MEMGREP="$NEXUS_SRC/tests/lib/memgrep.py"
  # this suite's tunnel (other suites running beside it have one named gate too)
  run "$MEMGREP" "$TUNNEL_PID" plaintext-probe-7f3a
  assert_success
  run "$MEMGREP" "$HUB_PID" plaintext-probe-7f3a "$COOKIE" __Host-nx
  assert_failure 1
  run "$MEMGREP" "$RELAY_PID" plaintext-probe-7f3a "$COOKIE" __Host-nx
  assert_failure 1
  kill "$UP" 2>/dev/null || true
}

@test "a hundred requests without a session are refused with 401 and logged ten a second at most, all counted" {
  local before t0 secs
  before=$(wc -l < "$T/tunnel-gate.log")
  t0=$(date +%s)
  run gcurl -o /dev/null -w '%{http_code}\n' -H 'Accept: application/json' \
    "https://dev1.ui.test/scan[1-100]"
  [ "$(grep -c '^401$' <<<"$output")" = 100 ]
  secs=$(( $(date +%s) - t0 + 1 ))
  sleep 1.2
  run gcurl -o /dev/null -w '%{http_code}\n' https://dev1.ui.test/last
  assert_output 401
  tail -n +"$((before + 1))" "$T/tunnel-gate.log" | grep 'gate: no session' > "$T/scan.log" || true
  rate_limited "$T/scan.log" 101 "$secs"
}

@test "the tunnel ends cleanly on SIGTERM after gated sessions (no sanitizer report)" {
  open_session "$(session_url alice dev1)" a
  gcurl -H "Cookie: __Host-nx=$COOKIE" https://dev1.ui.test/headers >/dev/null
  kill -TERM "$TUNNEL_PID"
  wait "$TUNNEL_PID" || true
  run grep -E 'Sanitizer|runtime error|leak' "$T/tunnel-gate.log"
  assert_failure
}
