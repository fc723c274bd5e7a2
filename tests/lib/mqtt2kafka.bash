# mqtt2kafka.bash — the nexus-mqtt2kafka suites' servers and checks: mosquitto, librdkafka's
# mock cluster (bin/tests/kafka-mock), kcat and tests/lib/kafka_check.py.

CHECK="$NEXUS_SRC/tests/lib/kafka_check.py"

# start_broker [EXTRA_CONFIG_LINES]: mosquitto on $MQ_PORT (plain); persistent sessions kept in
# memory, a queue deep enough that nothing is dropped while the bridge is away.
start_broker() {
  MQ_PORT=${MQ_PORT:-$(free_port)}
  {
    echo "per_listener_settings false"
    echo "allow_anonymous true"
    echo "persistence false"
    echo "max_queued_messages 1000000"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "log_dest stderr"
    echo "user root"
    echo "listener $MQ_PORT 127.0.0.1"
    [ $# -gt 0 ] && printf '%s\n' "$@"
  } > "$T/mosquitto.conf"
  bg mosquitto mosquitto -c "$T/mosquitto.conf"
  MQ_PID=$BG_PID
  wait_port "$MQ_PORT"
}

start_kafka() {
  "$NEXUS_TESTBIN/kafka-mock" -t telemetry:4 > "$T/kafka.addr" 2> "$T/kafka.log" &
  KAFKA_PID=$!
  NX_PIDS+=("$KAFKA_PID")
  wait_file "$T/kafka.addr"
  for _ in $(seq 100); do [ -s "$T/kafka.addr" ] && break; sleep 0.05; done
  KAFKA=$(head -1 "$T/kafka.addr")
}

# start_bridge [ARGS...]: the bridge on the plain listener, spool in $T/spool, log in bridge.log.
start_bridge() {
  bg bridge nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" \
    --client-id bridge-test --spool "$T/spool" --map 'device/+/info=telemetry' -v \
    --stats-interval 500ms "$@"
  BRIDGE_PID=$BG_PID
  wait_log bridge 'msg=running'
}

# wait_log NAME PATTERN [SECONDS]
wait_log() {
  for _ in $(seq $(( ${3:-15} * 20 ))); do
    grep -q -- "$2" "$T/$1.log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no '$2' in $1.log:" >&2; cat "$T/$1.log" >&2
  return 1
}

# kafka_count [TOPIC]: messages in the topic (sum of the 4 partitions' high watermarks).
kafka_count() {
  local t=${1:-telemetry}
  kcat -Q -b "$KAFKA" -t "$t:0:-1" -t "$t:1:-1" -t "$t:2:-1" -t "$t:3:-1" 2>/dev/null |
    awk '{n += $4} END {print n + 0}'
}

# wait_kafka N [TOPIC]: until at least N messages are in the topic (30 s at most).
wait_kafka() {
  local n
  for _ in $(seq 150); do
    n=$(kafka_count "${2:-telemetry}")
    [ "$n" -ge "$1" ] && return 0
    sleep 0.2
  done
  echo "only $n of $1 messages in Kafka" >&2
  return 1
}

kafka_dump() {
  kcat -C -b "$KAFKA" -t "${1:-telemetry}" -e -o beginning -q -f '%K %S %p %o |%h|\n%k%s\n' 2>/dev/null
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

suite_teardown() {
  # a tmpfs a test mounted for its spool
  if [ -n "${SPOOL_MNT:-}" ]; then
    for p in "${NX_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.2
    umount "$SPOOL_MNT" 2>/dev/null
  fi
  return 0
}
