#!/usr/bin/env bats
# nexus-agent at most once across a crash: SIGKILL while a handler runs; after the restart the
# command is answered "interrupted" and not run again, also when the broker delivers it again.
load lib/agent

suite_setup() {
  start_broker
  export RUNLOG="$T/runs.log"
  handler work 'echo "started $NEXUS_COMMAND_ID" >> "$RUNLOG"; sleep 60; echo finished >> "$RUNLOG"'
}

@test "SIGKILL during a command: after restart it is answered interrupted, not re-run" {
  start_agent
  mq_sub acks 'device/dev1/command/ack'
  mq_pub device/dev1/command '{"id":"k-1","command":"work"}'
  wait_log runs 'started k-1'
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  # the handler went with the agent
  for _ in $(seq 100); do pgrep -f "$T/handlers/work" >/dev/null || break; sleep 0.1; done
  run pgrep -f "$T/handlers/work"
  assert_failure
  run grep -c 'k-1' "$T/acks.log"
  assert_output 0
  mv "$T/agent.log" "$T/agent-1.log"
  start_agent
  wait_log acks '"id":"k-1","status":"interrupted"'
  # delivered again (an operator retrying, or the broker): the stored answer, no new run
  mq_pub device/dev1/command '{"id":"k-1","command":"work"}'
  wait_log agent 'not run again, stored ack re-sent'
  for _ in $(seq 100); do [ "$(grep -c '"id":"k-1"' "$T/acks.log")" -ge 2 ] && break; sleep 0.1; done
  run grep -c '"id":"k-1","status":"interrupted"' "$T/acks.log"
  assert_output 2
  run cat "$RUNLOG"
  assert_output 'started k-1'
}

@test "a torn last journal line (a crash inside write) is skipped, the rest still counts" {
  start_agent
  run agent_send --device dev1 --id j-1 --wait 1s work  # started, not finished in 1 s
  assert_failure 1
  assert_output --partial 'no ack from device dev1 within 1s'
  wait_log runs 'started j-1'
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  printf '{"id":"j-2","st":"ru' >> "$T/dev1.journal"
  mv "$T/agent.log" "$T/agent-1.log"
  mq_sub acks 'device/dev1/command/ack/#'   # send used a Response Topic under it
  start_agent
  wait_log agent 'journal: skipped torn or unreadable lines" lines=1'
  wait_log acks '"id":"j-1","status":"interrupted"'
  run grep -c 'started j-1' "$RUNLOG"
  assert_output 1
}
