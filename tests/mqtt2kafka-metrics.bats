#!/usr/bin/env bats
# nexus-mqtt2kafka --metrics ADDR: GET /metrics is Prometheus text that `promtool check
# metrics` accepts, and it follows what the bridge does: messages received and delivered,
# the spool filling while Kafka is away and draining when it is back, the MQTT link; a bad
# address is a usage error, one in use a runtime failure.
load lib/common
load lib/mqtt2kafka

metric() { awk -v n="$1" '$1 == n { print $2 }' "$T/m"; }
scrape() { curl -sS --max-time 30 -o "$T/m" "http://127.0.0.1:$MP/metrics"; }

# wait_metric NAME VALUE: until the metric reads VALUE (30 s at most)
wait_metric() {
  for _ in $(seq 300); do
    scrape && [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "$1 is $(metric "$1"), not $2" >&2; cat "$T/m" >&2; return 1
}

@test "counters and gauges follow the traffic, with Kafka away and back" {
  start_broker; start_kafka
  MP=$(free_port)
  start_bridge --metrics "127.0.0.1:$MP"
  wait_log bridge "msg=metrics url=http://127.0.0.1:$MP/metrics"
  scrape
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric nexus_mqtt2kafka_mqtt_up)" = 1 ]
  [ "$(metric nexus_mqtt2kafka_running)" = 1 ]
  [ "$(metric nexus_mqtt2kafka_received_total)" = 0 ]

  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 200 -d 5
  assert_success
  wait_metric nexus_mqtt2kafka_delivered_total 200
  [ "$(metric nexus_mqtt2kafka_received_total)" = 200 ]
  [ "$(metric nexus_mqtt2kafka_spool_pending)" = 0 ]

  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 300 -d 5
  assert_success
  wait_metric nexus_mqtt2kafka_received_total 500
  wait_metric nexus_mqtt2kafka_spool_pending 300
  [ "$(metric nexus_mqtt2kafka_delivered_total)" = 200 ]
  [ "$(metric nexus_mqtt2kafka_spool_bytes)" -gt 0 ]
  kill -USR2 "$KAFKA_PID"
  wait_metric nexus_mqtt2kafka_delivered_total 500
  wait_metric nexus_mqtt2kafka_spool_pending 0
  run promtool check metrics < "$T/m"
  assert_success
  [ "$(metric 'nexus_mqtt2kafka_dropped_total{reason="kafka_refused"}')" = 0 ]

  kill "$MQ_PID"
  wait_metric nexus_mqtt2kafka_mqtt_up 0
  kill -TERM "$BRIDGE_PID"
  wait "$BRIDGE_PID"
}

@test "--metrics: a bad address is a usage error, one in use a runtime failure" {
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:1 --map 'a/#=t' --metrics 9101
  assert_failure 2
  assert_line --index 0 --partial "--metrics: bad address '9101'"
  start_broker; start_kafka
  MP=$(free_port)
  start_bridge --metrics "127.0.0.1:$MP"
  run nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" --client-id other \
    --spool "$T/spool2" --map 'device/+/info=telemetry' --metrics "127.0.0.1:$MP"
  assert_failure 1
  assert_output --partial "127.0.0.1:$MP"
  # it failed before connecting anywhere
  grep -q 'as bridge-test' "$T/mosquitto.log"   # what a connection looks like there
  run grep -c 'as other' "$T/mosquitto.log"
  [ "$output" = 0 ]
}

@test "while the spool replay waits for Kafka, /metrics answers running 0" {
  start_broker; start_kafka
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  start_bridge --drain-timeout 1s
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 500 -d 5
  assert_success
  wait_log bridge 'received=500 '
  kill -TERM "$BRIDGE_PID"; wait "$BRIDGE_PID" || true
  mv "$T/bridge.log" "$T/bridge-1.log"
  MP=$(free_port)
  bg bridge nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" \
    --client-id bridge-test --spool "$T/spool" --map 'device/+/info=telemetry' \
    -X queue.buffering.max.messages=100 --metrics "127.0.0.1:$MP" --drain-timeout 1s
  BRIDGE_PID=$BG_PID
  wait_log bridge "msg=metrics"
  scrape
  [ "$(metric nexus_mqtt2kafka_running)" = 0 ]
  run promtool check metrics < "$T/m"
  assert_success
  kill -USR2 "$KAFKA_PID"
  wait_metric nexus_mqtt2kafka_running 1
}
