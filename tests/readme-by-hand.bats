#!/usr/bin/env bats
# The README's "whole path, by hand" block, run as written (taken from README.md between its
# by-hand markers). Only its fixed ports 8443, 8080 and 9000 are swapped for free ones, so
# it cannot collide with anything else on the machine. A user pasting it gets the page on
# the first try (no 503: it waits for the tunnel's "serving" line and the service), and the
# web service serves only the page, never the keys beside it.
load lib/common

extract_block() {
  awk '/<!-- by-hand:begin/{f=1;next} /<!-- by-hand:end/{f=0} f' "$NEXUS_SRC/README.md" |
    sed '/^```/d'
}

@test "the README's by-hand block serves the page through relay, hub and tunnel" {
  extract_block > "$T/block.sh"
  [ "$(wc -l < "$T/block.sh")" -gt 5 ]
  H=$(free_port) R=$(free_port) W=$(free_port)
  sed -i "s/\b8443\b/$H/g; s/\b8080\b/$R/g; s/\b9000\b/$W/g" "$T/block.sh"
  mkdir "$T/try"
  (cd "$T/try" && bash -c 'source ../block.sh; echo "exit=$?"; jobs -p > pids') \
    > "$T/out.txt" 2>&1 < /dev/null
  for p in $(cat "$T/try/pids"); do NX_PIDS+=("$p"); done
  [ "$(wc -w < "$T/try/pids")" -eq 4 ]
  run cat "$T/out.txt"
  assert_line "nexus-tunnel: serving app.test → 127.0.0.1:$W via wss://127.0.0.1:$H/connect"
  assert_line '<h1>Hello through the tunnel</h1>'
  assert_line 'exit=0'
  # the keys sit beside www/, not in it
  assert_file_exist "$T/try/hub.secret"
  run curl -sS -o /dev/null -w '%{http_code}' --resolve "app.test:$R:127.0.0.1" \
    "http://app.test:$R/hub.secret"
  assert_output 404
  run curl -sS -o /dev/null -w '%{http_code}' --resolve "app.test:$R:127.0.0.1" \
    "http://app.test:$R/hub.key"
  assert_output 404
}
