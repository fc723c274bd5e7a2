#!/usr/bin/env bats
# nexus-agent with a full disk under its journal: a command that cannot be journaled is not
# run and not acknowledged to the broker (no PUBACK); the agent exits 1; after a restart with
# room again the broker delivers the command again and it runs once.
load lib/agent

suite_teardown() {
  if [ -n "${STATE_MNT:-}" ]; then
    for p in "${NX_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.2
    umount "$STATE_MNT" 2>/dev/null
  fi
  return 0
}

@test "disk full: the command is neither run nor acknowledged; exit 1; after restart it runs once" {
  [ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
  STATE_MNT="$T/state"
  mkdir -p "$STATE_MNT"
  mount -t tmpfs -o size=64k tmpfs "$STATE_MNT" || skip "cannot mount tmpfs here"
  start_broker
  export RUNLOG="$T/runs.log"
  handler work 'echo "ran $NEXUS_COMMAND_ID" >> "$RUNLOG"; echo done'
  agent() {
    bg agent nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
      --cert "$T/pki/dev1.crt" --key "$T/pki/dev1.key" --journal "$STATE_MNT/journal" \
      --handlers "$T/handlers"
    AGENT_PID=$BG_PID
    wait_log agent 'msg="mqtt subscribed"'
  }
  agent
  dd if=/dev/zero of="$STATE_MNT/fill" bs=4k 2>/dev/null || true   # until the disk is full
  mq_sub acks 'device/dev1/command/ack'
  mq_pub device/dev1/command '{"id":"f-1","command":"work"}'
  wait "$AGENT_PID" && fail "the agent kept running with a full journal disk"
  assert_file_contains "$T/agent.log" 'journal .*No space left on device'
  assert_file_not_exists "$RUNLOG"
  run grep -c '"id":"f-1"' "$T/acks.log"
  assert_output 0
  # room again: the broker still holds the command in the device's session
  rm -f "$STATE_MNT/fill"
  mv "$T/agent.log" "$T/agent-1.log"
  agent
  wait_log acks '"id":"f-1","status":"ok","output":"done\\n"'
  run cat "$RUNLOG"
  assert_output 'ran f-1'
}
