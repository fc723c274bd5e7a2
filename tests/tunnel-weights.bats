#!/usr/bin/env bats
# Two backends for one hostname with weights 1 and 3 share 400 connections about 1:3
# (interleaved weighted round robin per route key); when one goes, the other takes all.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web one; ONE_PORT=$WEB_PORT
  start_web three; THREE_PORT=$WEB_PORT
  start_hub
  start_relay
  start_backend w1 --hostname app.test --weight 1 --target "127.0.0.1:$ONE_PORT"
  W1_PID=$BG_PID
  start_backend w3 --hostname app.test --weight 3 --target "127.0.0.1:$THREE_PORT"
  wait_backends 2
}

@test "weights 1 and 3 share 400 connections about 1:3" {
  urls=()
  for i in $(seq 400); do urls+=("http://app.test:$RELAY_PORT/who"); done
  relay_curl "${urls[@]}" > "$T/answers"
  run grep -c '^one$' "$T/answers"
  ones=$output
  run grep -c '^three$' "$T/answers"
  threes=$output
  echo "one=$ones three=$threes" >&3
  [ $((ones + threes)) -eq 400 ]
  [ "$ones" -ge 80 ] && [ "$ones" -le 120 ]
}

@test "when one backend goes, the other serves every connection" {
  kill "$W1_PID"
  wait_log "$T/hub.log" 'msg="backend session ended"'
  for i in 1 2 3 4 5 6; do
    run relay_curl "http://app.test:$RELAY_PORT/who"
    assert_output three
  done
}
