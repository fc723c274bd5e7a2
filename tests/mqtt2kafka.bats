#!/usr/bin/env bats
# nexus-mqtt2kafka end to end: a real mosquitto, librdkafka's mock cluster (bin/tests/kafka-mock),
# bin/tests/mqtt-load to publish known messages, kcat + tests/lib/kafka_check.py to read them back.
load lib/common
load lib/mqtt2kafka

@test "usage errors exit 2 with a clear message" {
  run nexus-mqtt2kafka
  assert_failure 2
  assert_output --partial "required"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'device/+/info'
  assert_failure 2
  assert_output --partial "FILTER=KAFKA_TOPIC"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'dev#ice=t'
  assert_failure 2
  assert_output --partial "whole level"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'a/+=bad topic!'
  assert_failure 2
  assert_output --partial "bad Kafka topic"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'a/+=t,key=+2'
  assert_failure 2
  assert_output --partial "1 '+' wildcard"
  run nexus-mqtt2kafka --mqtt http://x --kafka 127.0.0.1:9 --map 'a/+=t'
  assert_failure 2
  assert_output --partial "bad MQTT URL"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'a/+=t' -X no.such.prop=1
  assert_failure 2
  assert_output --partial "no.such.prop"
  run nexus-mqtt2kafka --mqtt mqtt://127.0.0.1:1 --kafka 127.0.0.1:9 --map 'a/+=t' --spool-max 12parsecs
  assert_failure 2
  run nexus-mqtt2kafka --help
  assert_success
  assert_output --partial "--map"
  run nexus-mqtt2kafka --version
  assert_success
}

@test "10000 QoS 1 messages from 50 devices: keys, per-key order, headers, exact payloads" {
  start_broker; start_kafka; start_bridge
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 10000 -d 50 -e "$T/expected.tsv"
  assert_success
  wait_kafka 10000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  echo "$output"
  assert_success
  assert_output --partial "expected=10000 got=10000 missing=0 duplicates=0"
  kill -TERM "$BRIDGE_PID"
  wait "$BRIDGE_PID" || { rc=$?; cat "$T/bridge.log"; fail "bridge exited $rc on SIGTERM"; }
  assert_file_contains "$T/bridge.log" 'msg=stopped pending=0'
}

@test "MQTT 3.1.1 works too, with --fsync" {
  start_broker; start_kafka; start_bridge --mqtt-version 3.1.1 --fsync
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 500 -d 7 -e "$T/expected.tsv"
  assert_success
  wait_kafka 500
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  assert_success
}

@test "SIGKILL halfway, then restart: every message reaches Kafka" {
  start_broker; start_kafka; start_bridge
  "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 10000 -d 40 -r 5000 -e "$T/expected.tsv" &
  local pub=$!
  # Kill once a good part is through, while messages are still arriving.
  for _ in $(seq 200); do [ "$(kafka_count)" -ge 2000 ] && break; sleep 0.05; done
  kill -KILL "$BRIDGE_PID"
  sleep 0.5
  mv "$T/bridge.log" "$T/bridge-first.log"
  start_bridge
  wait "$pub"
  wait_kafka 10000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin"
  echo "$output"
  assert_success
  assert_output --partial "missing=0"
  assert_output --partial "unexpected=0"
}

@test "Kafka away for a while: MQTT intake pauses at the spool cap, memory stays bounded, nothing lost" {
  start_broker; start_kafka
  start_bridge --spool-max 256KiB
  kill -USR1 "$KAFKA_PID"          # every mock broker down
  wait_log kafka 'brokers down'
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 4000 -d 20 -e "$T/expected.tsv" -r 4000
  # The broker keeps what the bridge does not take, so the publisher still finishes.
  assert_success
  wait_log bridge 'spool full: pausing MQTT intake'
  rss=$(rss_kb "$BRIDGE_PID")
  echo "bridge RSS while Kafka is down: ${rss} kB"
  [ "$rss" -lt 200000 ]
  du -sk "$T/spool"
  [ "$(du -sk "$T/spool" | cut -f1)" -lt 1024 ]
  kill -USR2 "$KAFKA_PID"          # back up
  wait_kafka 4000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin"
  echo "$output"
  assert_success
  wait_log bridge 'resuming MQTT intake'
}

@test "broker restart: the bridge reconnects and carries on" {
  start_broker; start_kafka; start_bridge
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 1000 -d 10 -e "$T/expected1.tsv"
  assert_success
  wait_kafka 1000
  kill -TERM "$MQ_PID"; wait "$MQ_PID" 2>/dev/null || true
  wait_log bridge 'mqtt connection lost'
  mv "$T/mosquitto.log" "$T/mosquitto-first.log"
  start_broker
  wait_log bridge 'mqtt=up reconnects=1' 40
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 1000 -s 1000 -d 10 -e "$T/expected2.tsv"
  assert_success
  wait_kafka 2000
  cat "$T/expected1.tsv" "$T/expected2.tsv" > "$T/expected.tsv"
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  echo "$output"
  assert_success
}

@test "a torn record at the end of the spool is skipped; everything before it is replayed" {
  start_broker; start_kafka
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  start_bridge
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 300 -d 3 -e "$T/expected.tsv"
  assert_success
  wait_log bridge 'received=300 '
  kill -KILL "$BRIDGE_PID"
  seg=$(ls "$T"/spool/seg-*.nxs | tail -1)
  printf 'NXS1\000\000\001\000half a record' >> "$seg"     # what a crash inside write(2) leaves
  kill -USR2 "$KAFKA_PID"
  mv "$T/bridge.log" "$T/bridge-first.log"
  start_bridge
  assert_file_contains "$T/bridge.log" 'msg="spool replayed" records=300 '
  run grep -o 'torn_bytes=[0-9]*' "$T/bridge.log"
  refute_output 'torn_bytes=0'
  wait_kafka 300
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  echo "$output"
  assert_success
}

@test "empty and oversized payloads: empty passes through, oversized is dropped with a log line" {
  start_broker; start_kafka
  start_bridge -X message.max.bytes=20000
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/empty/info -n
  head -c 50000 /dev/urandom > "$T/big"
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/big/info -f "$T/big"
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/after/info -m ok
  wait_kafka 2
  run kcat -C -b "$KAFKA" -t telemetry -e -o beginning -q -f '%k %S\n'
  assert_line 'empty 0'
  assert_line 'after 2'
  refute_output --partial 'big'
  assert_file_contains "$T/bridge.log" 'message dropped: larger than Kafka takes.*bytes=50000 message_max_bytes=20000'
  kill -USR1 "$BRIDGE_PID"
  wait_log bridge 'dropped=1 '
  # far bigger than Kafka takes: the broker does not even send it (MQTT 5 Maximum Packet
  # Size), so the bridge never reads it
  head -c 300000 /dev/urandom > "$T/huge"
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/huge/info -f "$T/huge"
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/after2/info -m ok
  wait_kafka 3
  kill -USR1 "$BRIDGE_PID"
  # empty, big, after, after2: four received, one dropped; the huge one never came
  wait_log bridge 'received=4 delivered=3 dropped=1 '
  run grep -c 'received=5 ' "$T/bridge.log"
  assert_output 0
  run grep -c 'bytes=300000' "$T/bridge.log"
  assert_output 0
}

@test "sixty oversized payloads in a row: each dropped and counted, logged ten a second at most" {
  start_broker; start_kafka
  start_bridge -X message.max.bytes=20000
  local t0 secs i
  t0=$(date +%s)
  python3 -c 'print(("x" * 30000 + "\n") * 60, end="")' |
    mosquitto_pub -p "$MQ_PORT" -q 1 -t device/big/info -l
  for i in $(seq 100); do
    kill -USR1 "$BRIDGE_PID"; sleep 0.1
    grep -q 'dropped=60 ' "$T/bridge.log" && break
  done
  secs=$(( $(date +%s) - t0 + 1 ))
  sleep 1.2
  head -c 30000 /dev/zero | tr '\0' y > "$T/big"
  mosquitto_pub -p "$MQ_PORT" -q 1 -t device/big/info -f "$T/big"
  for i in $(seq 100); do
    kill -USR1 "$BRIDGE_PID"; sleep 0.1
    grep -q 'dropped=61 ' "$T/bridge.log" && break
  done
  grep -q 'dropped=61 ' "$T/bridge.log"
  grep 'message dropped: larger than Kafka takes' "$T/bridge.log" > "$T/drops.log"
  rate_limited "$T/drops.log" 61 "$secs"
}

@test "shared subscription: two bridges split the load, each message once" {
  start_broker; start_kafka
  bg bridge1 nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" --client-id b1 \
    --spool "$T/spool1" --map '$share/g/device/+/info=telemetry' -v --stats-interval 500ms
  bg bridge2 nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" --client-id b2 \
    --spool "$T/spool2" --map '$share/g/device/+/info=telemetry' -v --stats-interval 500ms
  wait_log bridge1 'msg=running'; wait_log bridge2 'msg=running'
  sleep 0.3   # both subscriptions in place
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 2000 -d 20 -e "$T/expected.tsv"
  assert_success
  wait_kafka 2000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin"
  echo "$output"
  assert_output --partial "missing=0 duplicates=0"
  wait_log bridge1 'received=[1-9]'
  wait_log bridge2 'received=[1-9]'
}

@test "a second bridge on the same spool is refused" {
  start_broker; start_kafka; start_bridge
  run nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" --spool "$T/spool" \
    --map 'device/+/info=telemetry'
  assert_failure 1
  assert_output --partial "in use by another process"
}

@test "broker down at start: clear error, exit 1" {
  start_kafka
  run nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$(free_port)" --kafka "$KAFKA" --spool "$T/spool" \
    --map 'device/+/info=telemetry'
  assert_failure 1
  assert_output --partial "cannot connect to MQTT broker"
}

# make_pki DIR: a P-256 CA, a server certificate for localhost/127.0.0.1, a client certificate
# from that CA, and a rogue CA with its own "client" certificate.
make_pki() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    for ca in ca rogue; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout $ca.key -out $ca.crt -subj "/CN=test $ca" 2>/dev/null
    done
    issue() { # name ca subj ext
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key -out $1.csr -subj "$3" 2>/dev/null
      printf '%s\n' "$4" > $1.ext
      openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 2 -out $1.crt -extfile $1.ext 2>/dev/null
    }
    issue server ca /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
    issue client ca /CN=bridge1 "extendedKeyUsage=clientAuth"
    issue evil rogue /CN=evil "extendedKeyUsage=clientAuth"
  )
}

start_tls_broker() {
  make_pki "$T/pki"
  TLS_PORT=$(free_port)
  start_broker "listener $TLS_PORT 127.0.0.1" "cafile $T/pki/ca.crt" "certfile $T/pki/server.crt" \
    "keyfile $T/pki/server.key" "require_certificate true" "use_identity_as_username true" \
    "tls_version tlsv1.2"
  wait_port "$TLS_PORT"
}

@test "mutual TLS: the bridge presents its client certificate and messages flow" {
  start_tls_broker; start_kafka
  bg bridge nexus-mqtt2kafka --mqtt "mqtts://localhost:$TLS_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/client.crt" --key "$T/pki/client.key" --kafka "$KAFKA" --client-id tls1 \
    --spool "$T/spool" --map 'device/+/info=telemetry'
  wait_log bridge 'msg=running'
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 1000 -d 10 -e "$T/expected.tsv"
  assert_success
  wait_kafka 1000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  assert_success
  assert_file_contains "$T/mosquitto.log" "as tls1 .*u'bridge1'"
}

@test "mutual TLS: a client certificate the broker does not trust gives a clear error, exit 1" {
  start_tls_broker; start_kafka
  run nexus-mqtt2kafka --mqtt "mqtts://localhost:$TLS_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/evil.crt" --key "$T/pki/evil.key" --kafka "$KAFKA" --client-id tls2 \
    --spool "$T/spool" --map 'device/+/info=telemetry' --connect-timeout 5s
  echo "$output"
  assert_failure 1
  assert_output --regexp 'cannot (start|connect).*(certificate|TLS|alert)'
}

@test "mutual TLS: no client certificate is refused too" {
  start_tls_broker; start_kafka
  run nexus-mqtt2kafka --mqtt "mqtts://localhost:$TLS_PORT" --cafile "$T/pki/ca.crt" \
    --kafka "$KAFKA" --client-id tls3 --spool "$T/spool" --map 'device/+/info=telemetry' \
    --connect-timeout 5s
  echo "$output"
  assert_failure 1
  assert_output --partial 'cannot start'
}

@test "SIGTERM while Kafka is down: exit 0, unconfirmed messages kept and delivered after restart" {
  start_broker; start_kafka
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  start_bridge --drain-timeout 1s
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 500 -d 5 -e "$T/expected.tsv"
  assert_success
  wait_log bridge 'received=500 '
  kill -TERM "$BRIDGE_PID"
  wait "$BRIDGE_PID" || fail "bridge exited $? on SIGTERM"
  assert_file_contains "$T/bridge.log" 'they stay in the spool for the next start" pending=500'
  # Restarted while Kafka is still down, it waits in the replay; SIGTERM still ends it cleanly.
  mv "$T/bridge.log" "$T/bridge-1.log"
  bg bridge nexus-mqtt2kafka --mqtt "mqtt://127.0.0.1:$MQ_PORT" --kafka "$KAFKA" \
    --client-id bridge-test --spool "$T/spool" --map 'device/+/info=telemetry' \
    -X queue.buffering.max.messages=100 --drain-timeout 1s
  BRIDGE_PID=$BG_PID
  sleep 1
  kill -TERM "$BRIDGE_PID"
  wait "$BRIDGE_PID" || fail "bridge exited $? on SIGTERM during replay"
  assert_file_contains "$T/bridge.log" 'stopped during the spool replay'
  kill -USR2 "$KAFKA_PID"
  mv "$T/bridge.log" "$T/bridge-2.log"
  start_bridge
  wait_kafka 500
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  echo "$output"
  assert_success
}

@test "systemd: READY=1 and STATUS= lines go to NOTIFY_SOCKET; SIGUSR1 prints stats" {
  start_broker; start_kafka
  socat -u UNIX-RECV:"$T/notify" OPEN:"$T/notify.out",creat,append &
  NX_PIDS+=($!)
  wait_file "$T/notify"
  NOTIFY_SOCKET="$T/notify" start_bridge --stats-interval 200ms
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 100 -d 5
  assert_success
  wait_kafka 100
  for _ in $(seq 50); do grep -q 'STATUS=received=100 delivered=100' "$T/notify.out" && break; sleep 0.1; done
  assert_file_contains "$T/notify.out" 'READY=1'
  assert_file_contains "$T/notify.out" 'STATUS=received=100 delivered=100 '
  kill -USR1 "$BRIDGE_PID"
  wait_log bridge 'msg=stats received=100 delivered=100 dropped=0'
}

@test "options from --config and the environment; MQTT user and password from a file" {
  start_kafka
  MQ_PORT=$(free_port)
  mosquitto_passwd -b -c "$T/passwd" bridge 's3cret pass' 2>/dev/null
  printf 'listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\nlog_dest stderr\nuser root\n' \
    "$MQ_PORT" "$T/passwd" > "$T/auth.conf"
  bg mosquitto mosquitto -c "$T/auth.conf"
  wait_port "$MQ_PORT"
  printf 's3cret pass\n' > "$T/pw"
  cat > "$T/m2k.conf" <<CONF
# bridge settings
mqtt mqtt://127.0.0.1:$MQ_PORT
username bridge
password-file $T/pw
map device/+/info=telemetry
spool $T/spool
CONF
  NEXUS_MQTT2KAFKA_KAFKA="$KAFKA" bg bridge nexus-mqtt2kafka --config "$T/m2k.conf" --client-id cfg1
  wait_log bridge 'msg=running'
  mosquitto_pub -p "$MQ_PORT" -u bridge -P 's3cret pass' -q 1 -t device/9/info -m hello
  wait_kafka 1
  run kcat -C -b "$KAFKA" -t telemetry -e -o beginning -q -f '%k=%s\n'
  assert_output '9=hello'
  refute grep -q 's3cret' "$T/bridge.log"
  # wrong password: refused, clear error, exit 1
  printf 'nope\n' > "$T/badpw"
  run nexus-mqtt2kafka --config "$T/m2k.conf" --kafka "$KAFKA" --password-file "$T/badpw" \
    --client-id cfg2 --spool "$T/spool2"
  assert_failure 1
  assert_output --regexp 'refused the connection: .*(authori|password)'
  # a config file with an unknown option is a usage error
  printf 'mqtt mqtt://127.0.0.1:1\nbogus 1\n' > "$T/bad.conf"
  run nexus-mqtt2kafka --config "$T/bad.conf"
  assert_failure 2
  assert_output --partial "unknown option 'bogus'"
}

@test "a retained message arrives with mqtt.retain=1; topics outside every rule are not subscribed" {
  start_broker; start_kafka
  mosquitto_pub -p "$MQ_PORT" -q 1 -r -t device/r1/info -m 'last known state'
  start_bridge --map 'site/+/x/#=telemetry,key=#'
  mosquitto_pub -p "$MQ_PORT" -q 1 -t other/topic -m ignored
  mosquitto_pub -p "$MQ_PORT" -q 1 -t site/a/x/b/c -m deep
  wait_kafka 2
  run kcat -C -b "$KAFKA" -t telemetry -e -o beginning -q -f '%k|%h|%s\n'
  assert_line 'r1|mqtt.topic=device/r1/info,mqtt.qos=1,mqtt.retain=1|last known state'
  assert_line 'b/c|mqtt.topic=site/a/x/b/c,mqtt.qos=1,mqtt.retain=0|deep'
  refute_output --partial ignored
}

@test "Kafka away longer than the MQTT keepalive: the broker drops the paused bridge, it reconnects, nothing lost" {
  start_broker; start_kafka
  start_bridge --spool-max 64KiB --keepalive 5s
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 2000 -d 10 -e "$T/expected.tsv"
  assert_success
  wait_log bridge 'spool full: pausing MQTT intake'
  # Paused inside the message callback, the bridge sends no PINGREQ: after 1.5 x keepalive the
  # broker closes the connection. The session keeps the messages.
  wait_log mosquitto 'has exceeded timeout' 20
  kill -USR2 "$KAFKA_PID"
  wait_kafka 2000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin"
  echo "$output"
  assert_success
  wait_log bridge 'mqtt=up reconnects=1'
}

@test "Kafka away with a small producer queue: intake pauses at the queue bound, then resumes; nothing lost" {
  start_broker; start_kafka
  start_bridge -X queue.buffering.max.messages=200
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  run "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 3000 -d 10 -e "$T/expected.tsv"
  assert_success
  wait_log bridge 'Kafka queue full: pausing MQTT intake'
  kill -USR1 "$BRIDGE_PID"
  wait_log bridge 'kafka_queue=200 '
  kill -USR2 "$KAFKA_PID"
  wait_kafka 3000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin" --exact
  echo "$output"
  assert_success
  wait_log bridge 'Kafka queue has room again'
}

@test "disk full: a message that cannot be spooled is not acknowledged; exit 1, restart delivers all" {
  [ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
  SPOOL_MNT="$T/spool"
  mkdir -p "$SPOOL_MNT"
  mount -t tmpfs -o size=128k tmpfs "$SPOOL_MNT" || skip "cannot mount tmpfs here"
  start_broker; start_kafka
  kill -USR1 "$KAFKA_PID"; wait_log kafka 'brokers down'
  start_bridge --drain-timeout 1s
  "$NEXUS_TESTBIN/mqtt-load" -p "$MQ_PORT" -n 1000 -d 10 -e "$T/expected.tsv" &
  local pub=$!
  wait "$BRIDGE_PID" && fail "bridge kept running with a full disk"
  assert_file_contains "$T/bridge.log" 'cannot spool a message: spool write: No space left on device'
  # room again, Kafka back: the spooled part is replayed, the broker resends the rest
  mount -o remount,size=16m "$SPOOL_MNT"
  kill -USR2 "$KAFKA_PID"
  mv "$T/bridge.log" "$T/bridge-1.log"
  start_bridge
  wait "$pub"
  wait_kafka 1000
  kafka_dump > "$T/got.bin"
  run "$CHECK" "$T/expected.tsv" "$T/got.bin"
  echo "$output"
  assert_success
}
