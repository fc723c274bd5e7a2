#!/usr/bin/env bats
# The README's browser-session block (between its gate-flow markers) run as written: a
# user's session URL, opened by curl, gives the device's page through relay → hub → the
# gate in nexus-tunnel. Only the fixed ports are swapped for free ones.
load lib/common

extract_block() {
  awk '/<!-- gate-flow:begin/{f=1;next} /<!-- gate-flow:end/{f=0} f' "$NEXUS_SRC/README.md" |
    sed '/^```/d'
}

@test "the README's browser-session block shows the device page through the gate" {
  extract_block > "$T/block.sh"
  [ "$(wc -l < "$T/block.sh")" -gt 10 ]
  R=$(free_port) H=$(free_port) U=$(free_port) A=$(free_port)
  sed -i "s/\b8443\b/$R/g; s/\b8444\b/$H/g; s/\b9000\b/$U/g; s/\b9100\b/$A/g" "$T/block.sh"
  mkdir "$T/try"
  (cd "$T/try" && bash -c 'source ../block.sh; echo "exit=$?"; jobs -p > pids') \
    > "$T/out.txt" 2>&1 < /dev/null
  for p in $(cat "$T/try/pids"); do NX_PIDS+=("$p"); done
  run cat "$T/out.txt"
  assert_line '<h1>dev1 settings</h1>'
  assert_line 'exit=0'
  grep -q 'gate: session started.*user=alice device=dev1' "$T/try/tunnel.log"
  run grep -c 'gate: refused' "$T/try/tunnel.log"
  assert_output 0
}
