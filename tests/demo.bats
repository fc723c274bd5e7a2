#!/usr/bin/env bats
# make demo (scripts/demo) without a terminal: it runs the whole path and stops. The URLs it
# fetches are the ones it suggests trying (the same variables print both), so they must
# return the page; the tunnel's log line names every mapping, never "(no target)".
load lib/common

@test "the demo fetches the page at the suggested URLs, over TLS and plain HTTP" {
  run env NEXUS_BINDIR="$NEXUS_BINDIR" "$NEXUS_SRC/scripts/demo" < /dev/null
  assert_success
  assert_line --regexp '^\$ curl --cacert app.crt --resolve app.test:[0-9]+:127.0.0.1 https://app.test:[0-9]+/$'
  assert_line --regexp '^\$ curl --resolve app.test:[0-9]+:127.0.0.1 http://app.test:[0-9]+/$'
  [ "$(grep -c '^<h1>Hello from behind the tunnel</h1>$' <<< "$output")" -eq 2 ]
  assert_line --regexp '^nexus-tunnel: serving app.test via wss://127.0.0.1:[0-9]+/connect: app.test:[0-9]+ → 127.0.0.1:[0-9]+, app.test:[0-9]+ → 127.0.0.1:[0-9]+, otherwise → refused$'
  refute_output --partial '(no target)'
  assert_line 'HTTP 502'
  # the suggestions printed on a terminal are the commands run above
  grep -q '^  \$curl_tls$' "$NEXUS_SRC/scripts/demo"
  grep -q '^  \$curl_plain$' "$NEXUS_SRC/scripts/demo"
}
