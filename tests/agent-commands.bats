#!/usr/bin/env bats
# nexus-agent commands: DIR/<command> runs with the command JSON on stdin, its stdout is the
# ack's output, its exit code the ack's status; once per id; bounded in time, output, number.
# Real mosquitto with mutual TLS and the shipped ACL (tests/lib/agent.bash).
bats_require_minimum_version 1.5.0
load lib/agent

suite_setup() {
  start_broker
  export RUNLOG="$T/runs.log"
  handler echo 'echo "ran $NEXUS_COMMAND_ID" >> "$RUNLOG"; cat; printf " on %s" "$NEXUS_DEVICE"'
}

@test "a command runs once and its ack arrives with the handler's output" {
  start_agent
  mq_sub acks 'device/dev1/command/ack'
  run mq_pub device/dev1/command '{"id":"c-1","command":"echo","args":{"n":7}}'
  assert_success
  wait_log acks '"id":"c-1"'
  run grep -c 'MSG device/dev1/command/ack' "$T/acks.log"
  assert_output 1
  assert_file_contains "$T/acks.log" '"status":"ok"'
  assert_file_contains "$T/acks.log" '"n\\":7}} on dev1"'
  run cat "$RUNLOG"
  assert_output 'ran c-1'
}

@test "the same id delivered again is not run again: the stored ack is sent again" {
  start_agent
  mq_sub acks 'device/dev1/command/ack'
  mq_pub device/dev1/command '{"id":"dup-1","command":"echo","args":1}'
  wait_log acks '"id":"dup-1"'
  mq_pub device/dev1/command '{"id":"dup-1","command":"echo","args":1}'
  wait_log agent 'not run again, stored ack re-sent'
  for _ in $(seq 100); do [ "$(grep -c '"id":"dup-1"' "$T/acks.log")" -ge 2 ] && break; sleep 0.1; done
  run grep -c '"id":"dup-1","status":"ok"' "$T/acks.log"
  assert_output 2
  run grep -c 'ran dup-1' "$RUNLOG"
  assert_output 1
  # and after a restart too: the journal remembers
  kill -TERM "$AGENT_PID"; wait "$AGENT_PID"
  mv "$T/agent.log" "$T/agent-1.log"
  start_agent
  mq_pub device/dev1/command '{"id":"dup-1","command":"echo","args":1}'
  wait_log agent 'not run again, stored ack re-sent'
  run grep -c 'ran dup-1' "$RUNLOG"
  assert_output 1
}

@test "nexus-agent send: output on stdout, exit status from the ack's status" {
  start_agent
  handler fails 'echo "nope"; exit 3'
  handler refuses 'exit 65'
  handler forbids 'exit 77'
  handler busy 'exit 75'
  handler missing 'exit 127'
  run agent_send --device dev1 --id s-1 echo '{"x":"y"}'
  assert_success
  assert_output '{"id":"s-1","command":"echo","args":{"x":"y"}} on dev1'
  run agent_send --device dev1 fails
  assert_failure 1
  assert_output --partial 'nope'
  assert_output --partial 'nexus-agent: device dev1: fails: error'
  run agent_send --device dev1 refuses
  assert_failure 65
  assert_output --partial 'rejected'
  run agent_send --device dev1 forbids
  assert_failure 77
  assert_output --partial 'forbidden'
  run agent_send --device dev1 busy
  assert_failure 75
  run -127 agent_send --device dev1 missing
  assert_failure 127
  run agent_send --device dev1 --json --id s-2 echo
  assert_success
  assert_output --partial '{"id":"s-2","status":"ok","output":"{\"id\":\"s-2\",\"command\":\"echo\",\"args\":null} on dev1"}'
}

@test "MQTT 5 request/response: the ack goes to the Response Topic with the Correlation Data" {
  start_agent
  mq_sub resp 'device/dev1/replies/#'
  mq_sub acks 'device/dev1/command/ack'
  mq_pub device/dev1/command '{"id":"rr-1","command":"echo"}' operator \
    -D publish response-topic device/dev1/replies/42 -D publish correlation-data corr-42
  wait_log resp 'MSG device/dev1/replies/42 corr-42 \{"id":"rr-1","status":"ok"'
  # a Response Topic outside the device's namespace is not used: the ack topic is
  mq_pub device/dev1/command '{"id":"rr-2","command":"echo"}' operator \
    -D publish response-topic device/dev2/replies/1 -D publish correlation-data corr-43
  wait_log acks 'MSG device/dev1/command/ack corr-43 \{"id":"rr-2","status":"ok"'
  assert_file_contains "$T/agent.log" 'response topic outside the device'
}

@test "unknown commands and path-traversal names run nothing" {
  start_agent
  handler .hidden 'echo "ran hidden" >> "$RUNLOG"'
  mkdir -p "$T/outside"; printf '#!/bin/sh\necho "ran outside" >> "$RUNLOG"\n' > "$T/outside/evil"
  chmod +x "$T/outside/evil"
  run -127 agent_send --device dev1 --json no-such-command
  assert_failure 127
  assert_output --partial '"status":"unknown_command"'
  mq_sub acks 'device/dev1/command/ack'
  for name in '../outside/evil' '..' '.hidden' 'a/b' '/bin/sh' '' 'x y'; do
    mq_pub device/dev1/command "{\"id\":\"t-$name\",\"command\":\"$name\"}"
  done
  mq_pub device/dev1/command 'not json at all'
  mq_pub device/dev1/command '{"command":"echo"}'
  big=$(head -c 70000 /dev/zero | tr '\0' ' ')
  mq_pub device/dev1/command "{\"id\":\"big\",\"command\":\"echo\",\"args\":\"$big\"}"
  for _ in $(seq 100); do [ "$(grep -c '"status":"rejected"' "$T/acks.log")" -ge 10 ] && break; sleep 0.1; done
  run grep -c '"status":"rejected"' "$T/acks.log"
  assert_output 10
  assert_file_contains "$T/acks.log" '"id":null,"status":"rejected","output":"command message larger than 65536 bytes"'
  assert_file_contains "$T/acks.log" '"id":"t-../outside/evil","status":"rejected","output":"command name not allowed'
  assert_file_contains "$T/acks.log" '"id":null,"status":"rejected","output":"command message is not JSON'
  assert_file_not_exists "$RUNLOG"
  # the agent is still there
  run agent_send --device dev1 echo
  assert_success
}

@test "sixty malformed commands in a row: each rejected in its ack, logged ten a second at most" {
  start_agent
  mq_sub acks 'device/dev1/command/ack'
  local t0 secs
  t0=$(date +%s)
  yes 'not json at all' | head -60 |
    mosquitto_pub -V mqttv5 -h localhost -p "$MQ_PORT" --cafile "$T/pki/ca.crt" \
      --cert "$T/pki/operator.crt" --key "$T/pki/operator.key" -q 1 -t device/dev1/command -l
  for _ in $(seq 200); do [ "$(grep -c '"status":"rejected"' "$T/acks.log")" -ge 60 ] && break; sleep 0.1; done
  secs=$(( $(date +%s) - t0 + 1 ))
  sleep 1.2
  mq_pub device/dev1/command 'not json either'
  for _ in $(seq 100); do [ "$(grep -c '"status":"rejected"' "$T/acks.log")" -ge 61 ] && break; sleep 0.1; done
  run grep -c '"status":"rejected"' "$T/acks.log"
  assert_output 61
  grep 'msg="command rejected"' "$T/agent.log" > "$T/rejected.log"
  rate_limited "$T/rejected.log" 61 "$secs"
}

@test "a --handlers directory that does not exist: a warning, and every command is unknown" {
  mkdir -p "$T/none"
  bg agent nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/dev1.crt" --key "$T/pki/dev1.key" --journal "$T/dev1.journal" \
    --handlers "$T/none/handlers"
  wait_log agent 'msg="mqtt subscribed"'
  assert_file_contains "$T/agent.log" 'handlers is not a directory'
  run -127 agent_send --device dev1 echo
  assert_output --partial unknown_command
}

@test "timeout: TERM, then KILL for a handler that ignores TERM; status timeout" {
  start_agent dev1 --timeout 1s --kill-after 1s
  handler slow 'echo started; sleep 60'
  handler stubborn 'trap "" TERM; echo started; while :; do sleep 1; done'
  run agent_send --device dev1 --json slow
  assert_failure 124
  assert_output --partial '"status":"timeout","output":"started\n"'
  run agent_send --device dev1 --json stubborn
  assert_failure 124
  assert_output --partial '"status":"timeout"'
  run pgrep -f "$T/handlers/stubborn"
  assert_failure
}

@test "oversized output: cut at --max-output, status error, truncated" {
  start_agent dev1 --max-output 1KiB
  handler big 'head -c 100000 /dev/zero | tr "\0" x'
  handler exact 'head -c 1024 /dev/zero | tr "\0" y'
  run --separate-stderr agent_send --device dev1 --json big
  assert_failure 1
  assert_output --partial '"status":"error"'
  assert_output --partial '"truncated":true'
  out=$(echo "$output" | jq -r .output)
  [ "${#out}" -eq 1024 ]
  run agent_send --device dev1 --json exact
  assert_success
  refute_output --partial truncated
}

@test "--max-running bounds concurrency; beyond --max-queued commands are answered busy" {
  start_agent dev1 --max-running 1 --max-queued 1
  handler hold 'echo x >> "$RUNLOG.hold"; while [ ! -e "$RUNLOG.go" ]; do sleep 0.1; done; echo done'
  mq_sub acks 'device/dev1/command/ack'
  mq_pub device/dev1/command '{"id":"h-1","command":"hold"}'
  wait_file "$RUNLOG.hold"
  mq_pub device/dev1/command '{"id":"h-2","command":"hold"}'
  mq_pub device/dev1/command '{"id":"h-3","command":"hold"}'
  wait_log acks '"id":"h-3","status":"busy"'
  run cat "$RUNLOG.hold"
  assert_output 'x'          # h-2 waits for the slot
  touch "$RUNLOG.go"
  wait_log acks '"id":"h-2","status":"ok"'
  assert_file_contains "$T/acks.log" '"id":"h-1","status":"ok"'
  # busy is not remembered: nothing ran, so the same id sent again later runs
  mq_pub device/dev1/command '{"id":"h-3","command":"hold"}'
  wait_log acks '"id":"h-3","status":"ok"'
}
