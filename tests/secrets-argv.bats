#!/usr/bin/env bats
# Secrets never on the command line, where every local user reads them with ps(1):
# nexus-mqtt2kafka refuses secret librdkafka properties in -X NAME=VALUE (NAME=@FILE and
# $NEXUS_MQTT2KAFKA_X_NAME are the ways in), nexus-bind finds a password in any libpq
# connection string by parsing it (PQconninfoParse), and nexus-hub warns about a short
# HMAC secret.
load lib/common
load lib/tunnel
bats_require_minimum_version 1.5.0

M2K=(--mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'a/+=t' --spool "$BATS_TEST_TMPDIR/spool")

# usage_refused SECRET CMD...: exit 2, two lines, the secret nowhere in the output
usage_refused() {
  local secret=$1; shift
  run --separate-stderr "$@"
  [ "$status" -eq 2 ] || { echo "exit $status: $stderr"; return 1; }
  [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 2 ] || { echo "not two lines: $stderr"; return 1; }
  [[ "$stderr" != *"$secret"* ]] || { echo "the secret is in the message: $stderr"; return 1; }
  echo "# $(head -1 <<<"$stderr")" >&3
}

@test "mqtt2kafka: secret -X properties are refused on the command line" {
  for p in sasl.password ssl.key.password ssl.keystore.password \
           sasl.oauthbearer.client.secret ssl.key.pem SASL.PASSWORD; do
    usage_refused hunter2-secret nexus-mqtt2kafka "${M2K[@]}" -X "$p=hunter2-secret"
    [[ "$stderr" == *"$p is a secret"*"$p=@FILE"*NEXUS_MQTT2KAFKA_X_* ]]
  done
  # ordinary properties are still fine inline
  run nexus-mqtt2kafka "${M2K[@]}" -X no.such.prop=1
  assert_failure 2
  assert_output --partial 'no.such.prop'
}

@test "mqtt2kafka: -X NAME=@FILE reads the value from the file" {
  printf 'lz9\n' > "$T/codec"
  run nexus-mqtt2kafka "${M2K[@]}" -X "compression.codec=@$T/codec"
  assert_failure 2
  assert_output --partial 'Invalid value "lz9" for configuration property "compression.codec"'
  run nexus-mqtt2kafka "${M2K[@]}" -X "sasl.password=@$T/missing"
  assert_failure 1
  assert_output --partial "$T/missing"
  run nexus-mqtt2kafka "${M2K[@]}" -X "sasl.password=@"
  assert_failure 2
  assert_output --partial 'no file name'
}

@test "mqtt2kafka: with the secret from @FILE or the environment it runs; ps and the log never show it" {
  MQ_PORT=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser root\n' "$MQ_PORT" > "$T/mq.conf"
  bg mosquitto mosquitto -c "$T/mq.conf"
  wait_port "$MQ_PORT"
  "$NEXUS_TESTBIN/kafka-mock" -t telemetry:1 > "$T/kafka.addr" 2> "$T/kafka.log" &
  NX_PIDS+=("$!")
  for _ in $(seq 200); do [ -s "$T/kafka.addr" ] && break; sleep 0.05; done
  KAFKA=$(head -1 "$T/kafka.addr")
  printf 'file-secret-42\n' > "$T/sasl.pw"
  chmod 600 "$T/sasl.pw"
  bg bridge nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" \
    --spool "$T/spool" --map 'device/+/info=telemetry' -X "sasl.password=@$T/sasl.pw"
  wait_file "$T/bridge.log"
  for _ in $(seq 300); do grep -q msg=running "$T/bridge.log" && break; sleep 0.05; done
  assert_file_contains "$T/bridge.log" 'msg=running'
  run grep -l file-secret-42 "/proc/$BG_PID/cmdline" "$T/bridge.log"
  assert_output ''
  bg bridge2 env NEXUS_MQTT2KAFKA_X_SASL_PASSWORD=env-secret-43 nexus-mqtt2kafka \
    --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" --client-id b2 \
    --spool "$T/spool2" --map 'device/+/info=telemetry'
  for _ in $(seq 300); do grep -q msg=running "$T/bridge2.log" 2>/dev/null && break; sleep 0.05; done
  assert_file_contains "$T/bridge2.log" 'msg=running'
  run grep -l env-secret-43 "/proc/$BG_PID/cmdline" "$T/bridge2.log"
  assert_output ''
}

@test "bind: a password in any libpq connection string form is refused on argv" {
  for db in 'host=h password = x-pass' "host=h password='x-pass y'" $'host=h\tpassword=x-pass' \
            'postgresql://u:x-pass@h/db' 'postgres://h/db?password=x-pass' \
            'postgresql://h/db?sslmode=disable&password=x-pass'; do
    usage_refused x-pass nexus-bind --db "$db" ls
    [[ "$stderr" == *"no passwords on the command line"* ]]
    usage_refused x-pass nexus-bind "--db=$db" ls
  done
}

@test "bind: the password may come from PGPASSWORD or PGPASSFILE (not refused)" {
  # nothing listens there: the answer is a connection failure (exit 1), not a usage error
  run env PGPASSWORD=x-pass PGCONNECT_TIMEOUT=5 nexus-bind --db 'host=127.0.0.1 port=1 dbname=d' ls
  assert_failure 1
  refute_output --partial 'no passwords'
  printf '127.0.0.1:1:d:u:x-pass\n' > "$T/pgpass"; chmod 600 "$T/pgpass"
  run env PGPASSFILE="$T/pgpass" PGCONNECT_TIMEOUT=5 nexus-bind --db 'postgresql://u@127.0.0.1:1/d' ls
  assert_failure 1
  refute_output --partial 'no passwords'
  # a SQLite path is not a connection string even with '=' in it
  run nexus-bind --db "$T/a=b.db" ls
  assert_success
}

@test "hub: an HMAC secret shorter than 32 bytes gets a warning" {
  tunnel_keys
  printf 'short-secret-16b\n' > "$T/short.secret"; chmod 600 "$T/short.secret"
  port=$(free_port)
  bg hub nexus-hub --listen "127.0.0.1:$port" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/short.secret" --relay-socket "$T/hub.sock"
  wait_port "$port"
  wait_log "$T/hub.log" 'level=warn.*HMAC secret shorter than 32 bytes.*bytes=16'
  run grep -c short-secret-16b "$T/hub.log"
  assert_output 0
  # the 32-byte secrets keygen writes get none
  port2=$(free_port)
  bg hub2 nexus-hub --listen "127.0.0.1:$port2" --cert "$T/hub.crt" --key "$T/hub.key" \
    --secret-file "$T/hub.secret" --relay-socket "$T/hub2.sock"
  wait_port "$port2"
  run grep -c 'shorter than' "$T/hub2.log"
  assert_output 0
}
