#!/usr/bin/env bats
# nexus-agent and a broker restart: the agent reconnects by itself, telemetry resumes, the
# retained status is right on both sides of the outage, commands work again.
load lib/agent

@test "broker restart: reconnect, telemetry resumes, status online again, commands work" {
  start_broker
  handler echo 'echo pong'
  start_agent dev1 --interval 500ms --keepalive 5s
  kill -TERM "$MQ_PID"; wait "$MQ_PID" 2>/dev/null || true
  wait_log agent 'mqtt connection lost, reconnecting'
  sleep 1   # a telemetry period or two while the broker is away: skipped, not queued
  mv "$T/mosquitto.log" "$T/mosquitto-1.log"
  start_broker
  wait_log agent 'mqtt reconnected' 60
  # a fresh broker (no persistence) knows nothing: the agent re-announced itself and
  # re-subscribed
  mq_sub status 'device/dev1/status'
  wait_log status 'MSG device/dev1/status +online'
  mq_sub info 'device/dev1/info'
  wait_log info 'MSG device/dev1/info' 20
  for _ in $(seq 200); do [ "$(grep -c 'msg="mqtt subscribed"' "$T/agent.log")" -ge 2 ] && break; sleep 0.1; done
  run agent_send --device dev1 echo
  assert_success
  assert_output pong
  # and when the agent goes away for good, the status says so
  kill -KILL "$AGENT_PID"
  wait_log status 'MSG device/dev1/status +offline'
}

@test "broker down when the agent starts: it keeps trying and connects when the broker comes" {
  MQ_PORT=$(free_port)
  agent_pki
  mkdir -p "$T/handlers"
  bg agent nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/dev1.crt" --key "$T/pki/dev1.key" --device dev1 --journal "$T/dev1.journal"
  AGENT_PID=$BG_PID
  wait_log agent 'mqtt connection failed, retrying'
  kill -0 "$AGENT_PID"
  start_broker
  wait_log agent 'msg="mqtt subscribed"' 60
  mq_sub status 'device/dev1/status'
  wait_log status 'MSG device/dev1/status +online'
}
