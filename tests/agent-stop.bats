#!/usr/bin/env bats
# nexus-agent on SIGTERM while a handler runs: the handler is stopped (TERM, then KILL), the
# command is answered "interrupted" at once, the status goes offline, exit 0; after a restart
# the same id is not run again.
load lib/agent

@test "SIGTERM during a command: answered interrupted, offline, exit 0, not re-run" {
  start_broker
  export RUNLOG="$T/runs.log"
  handler work 'trap "echo got-TERM >> \"$RUNLOG\"; exit 143" TERM; echo "started $NEXUS_COMMAND_ID" >> "$RUNLOG"; while :; do sleep 0.2; done'
  start_agent dev1 --kill-after 2s
  mq_sub acks 'device/dev1/command/ack'
  mq_sub status 'device/dev1/status'
  mq_pub device/dev1/command '{"id":"t-1","command":"work"}'
  wait_log runs 'started t-1'
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || fail "agent exited $? on SIGTERM"
  wait_log acks '"id":"t-1","status":"interrupted"'
  wait_log status 'MSG device/dev1/status +offline'
  wait_log runs 'got-TERM'
  mv "$T/agent.log" "$T/agent-1.log"
  start_agent
  mq_pub device/dev1/command '{"id":"t-1","command":"work"}'
  wait_log agent 'not run again, stored ack re-sent'
  run grep -c 'started t-1' "$RUNLOG"
  assert_output 1
}
