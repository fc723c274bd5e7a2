# Helpers for the tests/agent-*.bats suites: a PKI with one certificate per device (CN =
# device id), mosquitto with mutual TLS and the shipped ACL (scripts/mosquitto/nexus-agent.acl)
# on a free 127.0.0.1 port, the agent, and an operator's mosquitto_sub/pub.
load lib/common

ACL="$NEXUS_SRC/scripts/mosquitto/nexus-agent.acl"

# agent_pki: $T/pki with ca, server (localhost, 127.0.0.1) and client certificates dev1, dev2,
# operator, bridge.
agent_pki() {
  local d="$T/pki"
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -keyout ca.key -out ca.crt -subj "/CN=test ca" 2>/dev/null
    issue() { # name subj ext
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key -out $1.csr -subj "$2" 2>/dev/null
      printf '%s\n' "$3" > $1.ext
      openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $1.crt -extfile $1.ext 2>/dev/null
    }
    issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
    for c in dev1 dev2 operator bridge; do issue $c "/CN=$c" "extendedKeyUsage=clientAuth"; done
  )
}

# start_broker: mosquitto, mutual TLS only, on $MQ_PORT (kept across restarts).
start_broker() {
  [ -d "$T/pki" ] || agent_pki
  MQ_PORT=${MQ_PORT:-$(free_port)}
  cat > "$T/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
persistence false
log_type error
log_type warning
log_type notice
log_type subscribe
log_dest stderr
user root
listener $MQ_PORT 127.0.0.1
cafile $T/pki/ca.crt
certfile $T/pki/server.crt
keyfile $T/pki/server.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
acl_file $ACL
CONF
  bg mosquitto mosquitto -c "$T/mosquitto.conf"
  MQ_PID=$BG_PID
  wait_port "$MQ_PORT"
}

# wait_log NAME PATTERN [SECONDS]: until PATTERN (grep -E) is in $T/NAME.log.
wait_log() {
  for _ in $(seq $(( ${3:-20} * 20 ))); do
    grep -Eq -- "$2" "$T/$1.log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no '$2' in $1.log:" >&2; cat "$T/$1.log" >&2
  return 1
}

# handler NAME SCRIPT-BODY: an executable $T/handlers/NAME.
handler() {
  mkdir -p "$T/handlers"
  printf '#!/bin/sh\n%s\n' "$2" > "$T/handlers/$1"
  chmod +x "$T/handlers/$1"
}

# start_agent [DEVICE] [ARGS...]: the agent with DEVICE's certificate (default dev1), log in
# $T/agent.log, journal in $T/DEVICE.journal; waits until it listens for commands.
start_agent() {
  local dev=${1:-dev1}; shift || true
  mkdir -p "$T/handlers"
  bg agent nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/$dev.crt" --key "$T/pki/$dev.key" --device "$dev" \
    --journal "$T/$dev.journal" --handlers "$T/handlers" "$@"
  AGENT_PID=$BG_PID
  wait_log agent 'msg="mqtt subscribed"'
}

# mq_sub NAME TOPIC [CERT] [ARGS...]: mosquitto_sub as CERT (default operator) in the
# background, lines "MSG topic correlation-data payload" in $T/NAME.log; waits for its SUBACK.
mq_sub() {
  local name=$1 topic=$2 who=${3:-operator}; shift 3 2>/dev/null || shift $#
  bg "$name" stdbuf -oL mosquitto_sub -d -V mqttv5 -h localhost -p "$MQ_PORT" \
    --cafile "$T/pki/ca.crt" --cert "$T/pki/$who.crt" --key "$T/pki/$who.key" \
    -i "sub-$name" -q 1 -F 'MSG %t %D %p' -t "$topic" "$@"
  wait_log "$name" 'SUBACK'
}

# mq_pub TOPIC MESSAGE [CERT] [ARGS...]: one QoS 1 publish as CERT (default operator).
mq_pub() {
  local topic=$1 msg=$2 who=${3:-operator}; shift 3 2>/dev/null || shift $#
  mosquitto_pub -V mqttv5 -h localhost -p "$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/$who.crt" --key "$T/pki/$who.key" -q 1 -t "$topic" -m "$msg" "$@"
}

# agent_send ARGS...: nexus-agent send as the operator.
agent_send() {
  nexus-agent send --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/operator.crt" --key "$T/pki/operator.key" "$@"
}
