#!/usr/bin/env bats
# mqtts:// without --cafile: the bridge trusts the system's CA store, as nexus-tunnel does,
# instead of refusing to start. A broker certificate from a private CA is then refused
# (exit 1, saying why); with that CA in the store (SSL_CERT_FILE stands in for the system
# store here, as OpenSSL allows) the bridge connects, with or without a client certificate.
load lib/common

suite_setup() {
  mkdir -p "$T/pki"
  (
    cd "$T/pki" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -keyout ca.key -out ca.crt -subj "/CN=test ca" 2>/dev/null
    issue() { # name subj ext
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key -out $1.csr \
        -subj "$2" 2>/dev/null
      printf '%s\n' "$3" > $1.ext
      openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $1.crt \
        -extfile $1.ext 2>/dev/null
    }
    issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
    issue client /CN=bridge1 "extendedKeyUsage=clientAuth"
  )
}

# start_tls_broker [require_certificate]: mosquitto with one TLS listener on TLS_PORT.
start_tls_broker() {
  TLS_PORT=$(free_port)
  printf '%s\n' "per_listener_settings false" "allow_anonymous true" "persistence false" \
    "log_dest stderr" "user root" "listener $TLS_PORT 127.0.0.1" "cafile $T/pki/ca.crt" \
    "certfile $T/pki/server.crt" "keyfile $T/pki/server.key" \
    "require_certificate ${1:-false}" "tls_version tlsv1.2" > "$T/mosquitto.conf"
  bg mosquitto mosquitto -c "$T/mosquitto.conf"
  wait_port "$TLS_PORT"
  "$NEXUS_TESTBIN/kafka-mock" -t telemetry:1 > "$T/kafka.addr" 2> "$T/kafka.log" &
  NX_PIDS+=("$!")
  for _ in $(seq 200); do [ -s "$T/kafka.addr" ] && break; sleep 0.05; done
  KAFKA=$(head -1 "$T/kafka.addr")
}

# bridge_args: the bridge's command line (a real exec under bg, so teardown stops it)
bridge_args() {
  BRIDGE=(nexus-mqtt2kafka --mqtt "mqtts://localhost:$TLS_PORT" --kafka "$KAFKA" --client-id sysca
    --spool "$T/spool" --map 'device/+/info=telemetry' --connect-timeout 10s)
}

wait_running() {
  for _ in $(seq 400); do grep -q 'msg=running' "$T/bridge.log" 2>/dev/null && return 0; sleep 0.05; done
  cat "$T/bridge.log" >&2
  return 1
}

@test "mqtts:// without --cafile is no longer a usage error: a private CA's broker is refused, exit 1" {
  start_tls_broker
  bridge_args
  run "${BRIDGE[@]}"
  assert_failure 1
  assert_output --partial "the broker's certificate is not trusted (not from the system's CA store; give --cafile with its CA)"
}

@test "mqtts:// without --cafile trusts the system store (SSL_CERT_FILE standing in for it)" {
  start_tls_broker
  bridge_args
  bg bridge env SSL_CERT_FILE="$T/pki/ca.crt" "${BRIDGE[@]}"
  wait_running
}

@test "mutual TLS without --cafile: the client certificate is presented, the system store verifies" {
  start_tls_broker true
  bridge_args
  bg bridge env SSL_CERT_FILE="$T/pki/ca.crt" "${BRIDGE[@]}" --cert "$T/pki/client.crt" \
    --key "$T/pki/client.key"
  wait_running
}

@test "an unreadable --cafile: one error line before Kafka starts, exit 1" {
  TLS_PORT=$(free_port) # nothing needs to listen: the file is checked first,
  KAFKA=127.0.0.1:$(free_port) # before a producer could log that its broker is down
  bridge_args
  run "${BRIDGE[@]}" --cafile "$T/no-such-ca.pem"
  assert_failure 1
  assert_output --partial "--cafile: cannot read $T/no-such-ca.pem: No such file or directory"
  [ "${#lines[@]}" -eq 1 ] # nothing from librdkafka after it
}
