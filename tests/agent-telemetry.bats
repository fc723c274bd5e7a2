#!/usr/bin/env bats
# nexus-agent telemetry: the built-in collector's JSON on device/<id>/info (QoS 1), or a
# --telemetry-cmd's one JSON object; retained online/offline status; on into Kafka through
# nexus-mqtt2kafka. Real mosquitto with mutual TLS and the shipped ACL.
load lib/agent

suite_setup() { start_broker; }

@test "built-in telemetry arrives with the documented fields; status online, then offline" {
  mq_sub info 'device/dev1/info'
  start_agent dev1 --interval 1s
  wait_log info 'MSG device/dev1/info'
  line=$(grep -m1 'MSG device/dev1/info' "$T/info.log" | cut -d' ' -f4-)
  echo "$line" | jq -e '
    (.client.version | type == "string") and
    (.cpu.arch == "'"$(uname -m)"'") and (.cpu.cores >= 1) and
    (.cpu.usage >= 0 and .cpu.usage <= 100) and
    (.memory.total > 0) and (.memory.used > 0) and (.memory.used <= .memory.total) and
    (.os.kernel == "'"$(uname -r)"'") and (.os.name | length > 0) and
    (.os.version | type == "string") and (.uptime > 0) and (.device == "dev1")'
  [ "$(echo "$line" | jq -r .client.version)" = "$(cat "$NEXUS_SRC/VERSION")" ]
  # every interval
  for _ in $(seq 100); do [ "$(grep -c 'MSG device/dev1/info' "$T/info.log")" -ge 3 ] && break; sleep 0.1; done
  [ "$(grep -c 'MSG device/dev1/info' "$T/info.log")" -ge 3 ]
  # retained status: a subscriber arriving later sees it
  mq_sub status 'device/dev1/status'
  wait_log status 'MSG device/dev1/status +online'
  kill -TERM "$AGENT_PID"; wait "$AGENT_PID"
  wait_log status 'MSG device/dev1/status +offline'
  assert_file_contains "$T/agent.log" 'msg=stopped'
}

@test "SIGKILL: the Last Will says offline" {
  start_agent
  mq_sub status 'device/dev1/status'
  wait_log status 'online'
  kill -KILL "$AGENT_PID"
  wait_log status 'MSG device/dev1/status +offline'
}

@test "--telemetry-cmd: its JSON object is published; anything else is logged and skipped" {
  echo 0 > "$T/n"
  cat > "$T/tel" <<'SH'
#!/bin/sh
n=$(cat "$TEL_DIR/n"); echo $((n + 1)) > "$TEL_DIR/n"
case $n in
0) printf '{"battery": 87, "rssi": -61}\n' ;;
1) echo 'not json' ;;
2) echo '[1, 2]' ;;
3) printf '{"a":1}\n{"b":2}\n' ;;
4) exit 3 ;;
*) printf '{"battery": %d}\n' $((90 + n)) ;;
esac
SH
  chmod +x "$T/tel"
  export TEL_DIR=$T
  mq_sub info 'device/dev1/info'
  start_agent dev1 --interval 300ms --telemetry-cmd "$T/tel"
  wait_log info 'MSG device/dev1/info +\{"battery":95\}' 30
  run grep 'MSG device/dev1/info' "$T/info.log"
  assert_line --index 0 --partial '{"battery":87,"rssi":-61}'
  assert_line --index 1 --partial '{"battery":95}'
  assert_file_contains "$T/agent.log" 'telemetry command output skipped" error="not one JSON object'
  assert_file_contains "$T/agent.log" 'telemetry command output skipped" error="not a JSON object'
  assert_file_contains "$T/agent.log" 'telemetry command failed: skipped" exit=3'
  [ "$(grep -c 'output skipped' "$T/agent.log")" -ge 3 ]
}

@test "telemetry flows on through nexus-mqtt2kafka into Kafka" {
  "$NEXUS_TESTBIN/kafka-mock" -t telemetry:4 > "$T/kafka.addr" 2> "$T/kafka.log" &
  NX_PIDS+=("$!")
  for _ in $(seq 200); do [ -s "$T/kafka.addr" ] && break; sleep 0.05; done
  KAFKA=$(head -1 "$T/kafka.addr")
  bg bridge nexus-mqtt2kafka --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/bridge.crt" --key "$T/pki/bridge.key" --client-id bridge-agent \
    --kafka "$KAFKA" --spool "$T/spool" --map 'device/+/info=telemetry'
  wait_log bridge 'msg=running'
  wait_log mosquitto 'bridge-agent 1 device/\+/info'
  start_agent dev1 --interval 500ms
  got=""
  for _ in $(seq 150); do
    got=$(kcat -C -b "$KAFKA" -t telemetry -e -o beginning -q -f '%k %s\n' 2>/dev/null | head -1)
    [ -n "$got" ] && break
    sleep 0.2
  done
  echo "got: $got"
  [ "${got%% *}" = dev1 ]                       # keyed by the device id
  echo "${got#* }" | jq -e '.device == "dev1" and .cpu.cores >= 1 and .memory.total > 0 and (.os.kernel | length > 0)'
}
