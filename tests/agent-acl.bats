#!/usr/bin/env bats
# Per-device identity: each device's certificate CN is its id, and the shipped ACL
# (scripts/mosquitto/nexus-agent.acl, use_identity_as_username) keeps it inside device/<id>/:
# another device's certificate can neither read nor write this device's topics.
load lib/agent

suite_setup() {
  start_broker
  export RUNLOG="$T/runs.log"
  handler reboot 'echo "ran $NEXUS_COMMAND_ID" >> "$RUNLOG"; echo ok'
}

@test "dev2's certificate cannot read dev1's telemetry, commands or acks" {
  start_agent dev1 --interval 300ms
  mq_sub spy 'device/dev1/#' dev2
  mq_sub op 'device/dev1/#' operator
  run agent_send --device dev1 --id a-1 reboot
  assert_success
  wait_log op 'MSG device/dev1/info'
  wait_log op 'MSG device/dev1/command '
  # the operator saw telemetry, the command and its ack; dev2, subscribed as long, saw nothing
  for _ in $(seq 20); do [ "$(grep -c 'MSG device/dev1/info' "$T/op.log")" -ge 4 ] && break; sleep 0.2; done
  run grep -c '^MSG ' "$T/spy.log"
  assert_output 0
}

@test "dev2's certificate cannot command dev1, nor publish as dev1" {
  start_agent dev1
  mq_sub op 'device/dev1/#' operator
  mq_sub acks 'device/dev1/command/ack' operator
  # the broker answers each with "not authorized" (MQTT 5 PUBACK reason 0x87)
  run mq_pub device/dev1/command '{"id":"evil-1","command":"reboot"}' dev2
  assert_output --partial 'Not authorized'
  run mq_pub device/dev1/info '{"forged":true}' dev2
  assert_output --partial 'Not authorized'
  run mq_pub device/dev1/status 'offline' dev2 -r
  assert_output --partial 'Not authorized'
  # dev2 may publish under its own name: the control that the broker does take its messages
  mq_sub own 'device/dev2/#' operator
  mq_pub device/dev2/info '{"mine":true}' dev2
  wait_log own 'MSG device/dev2/info +\{"mine":true\}'
  # now the operator's own command, after dev2's: if dev2's had got through, it came first
  run agent_send --device dev1 --id op-1 reboot
  assert_success
  run cat "$RUNLOG"
  assert_output 'ran op-1'
  refute [ -n "$(grep -e evil-1 -e forged "$T/op.log" "$T/acks.log" "$T/agent.log")" ]
  mq_sub status 'device/dev1/status' operator
  wait_log status 'MSG device/dev1/status +online'
}

@test "a device cannot subscribe to another's commands to snoop them" {
  start_agent dev1
  mq_sub snoop 'device/dev1/command' dev2
  run agent_send --device dev1 --id s-1 reboot
  assert_success
  run grep -c '^MSG ' "$T/snoop.log"
  assert_output 0
}
