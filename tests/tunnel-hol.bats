#!/usr/bin/env bats
# Head-of-line: one stream whose client never reads does not slow 100 other streams on the
# same backend session, and the hub's memory stays bounded while it stalls (the stalled
# stream holds at most its credit window).
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  head -c 50000000 /dev/zero > "$T/huge.bin"
  head -c 200000 /dev/urandom > "$T/small.bin"
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub
  start_relay
  start_backend plain --hostname app.test --target "127.0.0.1:$PLAIN_PORT"
  wait_backends 1
}

rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$HUB_PID/status"; }

@test "a client that never reads does not slow 100 other streams; hub memory stays bounded" {
  before=$(rss_kb)
  bg stall "$HELPERS/raw-client" stall "$RELAY_PORT" app.test /huge.bin 60
  wait_log "$T/stall.log" stalling
  sleep 2 # let the stalled stream fill every buffer on its way
  stalled=$(rss_kb)
  pids=()
  for i in $(seq 100); do
    relay_curl -o "$T/small.$i" "http://app.test:$RELAY_PORT/small.bin" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for i in $(seq 100); do cmp "$T/small.$i" "$T/small.bin"; done
  after=$(rss_kb)
  echo "hub VmRSS kB: before=$before stalled=$stalled after=$after" >&3
  # the stalled 50 MB reply costs the hub its window (64 frames), not the file
  [ $((stalled - before)) -lt 16384 ]
  [ $((after - before)) -lt 32768 ]
  kill -0 "$BG_PID" # still stalled, still open
}
