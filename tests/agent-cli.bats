#!/usr/bin/env bats
# nexus-agent at the edges: --help, --version, usage errors (one line + a hint, exit 2),
# options from --config and NEXUS_AGENT_* variables, runtime failures (one line, exit 1).
load lib/agent

@test "--help lists every option and exits 0; --version prints the version" {
  run nexus-agent --help
  assert_success
  for o in --mqtt --cafile --cert --key --device --interval --telemetry-cmd --handlers \
           --timeout --kill-after --max-running --max-queued --max-output --journal \
           --keepalive --verbose --config --help --version --id --wait --json; do
    assert_output --partial -- "$o"
  done
  run nexus-agent -V
  assert_success
  assert_output "nexus-agent $(cat "$NEXUS_SRC/VERSION")"
  run nexus-agent send --help
  assert_success
  assert_line --index 0 --partial 'usage: nexus-agent send'
  for o in --mqtt --cafile --cert --key --device --id --wait --json --config; do
    assert_output --partial -- "$o"
  done
  refute_output --partial -- '--handlers' # the daemon's options are not send's
}

@test "usage errors: one line saying what is wrong, a hint, exit 2" {
  check() { # expected-text args...
    local want=$1; shift
    run nexus-agent "$@"
    assert_failure 2
    assert_line --index 0 --partial "nexus-agent: $want"
    assert_line --index 1 "try 'nexus-agent --help'"
    [ "${#lines[@]}" -eq 2 ]
  }
  check '--mqtt URL is required'
  check '--device ID is required' --mqtt mqtt://127.0.0.1:1
  check '--mqtt: bad MQTT URL' --mqtt http://x --device d
  check "--device '../x'" --mqtt mqtt://127.0.0.1:1 --device ../x
  check "--device 'a/b'" --mqtt mqtt://127.0.0.1:1 --device a/b
  check "--device '+'" --mqtt mqtt://127.0.0.1:1 --device +
  check 'mqtts:// needs --cafile' --mqtt mqtts://127.0.0.1:1 --device d
  check '--cert and --key go together' --mqtt mqtts://127.0.0.1:1 --device d --cafile x --cert y
  check '--cafile/--cert/--key need an mqtts:// URL' --mqtt mqtt://127.0.0.1:1 --device d --cafile x
  check '--interval' --mqtt mqtt://127.0.0.1:1 --device d --interval soon
  check '--timeout' --mqtt mqtt://127.0.0.1:1 --device d --timeout -1s
  check '--max-running' --mqtt mqtt://127.0.0.1:1 --device d --max-running 0
  check '--max-output' --mqtt mqtt://127.0.0.1:1 --device d --max-output 2GiB
  check "unexpected argument 'extra'" --mqtt mqtt://127.0.0.1:1 --device d extra
  check 'send: which COMMAND?' send --mqtt mqtt://127.0.0.1:1 --device d
  check "send: command name '../reboot' not allowed" send --mqtt mqtt://127.0.0.1:1 --device d ../reboot
  check 'send: ARGS-JSON is not JSON' send --mqtt mqtt://127.0.0.1:1 --device d reboot '{oops'
  check "send: unexpected argument 'c'" send --mqtt mqtt://127.0.0.1:1 --device d reboot 1 c
  run nexus-agent --no-such-option
  assert_failure 2
  assert_output --partial "try 'nexus-agent --help'"
}

@test "options from --config FILE and from NEXUS_AGENT_* variables" {
  start_broker
  handler hello 'echo "hello from $NEXUS_DEVICE"'
  cat > "$T/agent.conf" <<CONF
# a comment
mqtt mqtts://localhost:$MQ_PORT
cafile $T/pki/ca.crt
cert $T/pki/dev1.crt
key $T/pki/dev1.key
journal $T/dev1.journal
handlers $T/handlers
CONF
  NEXUS_AGENT_DEVICE=dev1 bg agent nexus-agent --config "$T/agent.conf"
  wait_log agent 'msg="mqtt subscribed"'
  run agent_send --device dev1 hello
  assert_success
  assert_output 'hello from dev1'
}

@test "runtime failures: one line, exit 1" {
  run nexus-agent --mqtt mqtt://127.0.0.1:1 --device d --journal /nonexistent/dir/journal
  assert_failure 1
  assert_output --partial 'journal /nonexistent/dir/journal'
  [ "${#lines[@]}" -eq 1 ]
  agent_pki
  run nexus-agent --mqtt mqtts://localhost:1 --device d --cafile "$T/pki/ca.crt" \
    --cert "$T/nope.crt" --key "$T/nope.key" --journal "$T/j"
  assert_failure 1
  assert_output --partial 'nope.crt: No such file or directory'
  [ "${#lines[@]}" -eq 1 ]
  run nexus-agent send --mqtt "mqtt://127.0.0.1:$(free_port)" --device d reboot
  assert_failure 1
  assert_output --partial 'cannot connect to MQTT broker'
}

@test "the device id is the certificate's CN: taken from it, and a different --device is refused" {
  start_broker
  bg agent nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/dev2.crt" --key "$T/pki/dev2.key" --journal "$T/j"
  wait_log agent 'msg=running device=dev2 '
  wait_log agent 'msg="mqtt subscribed" topic=device/dev2/command'
  run nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/dev1.crt" --key "$T/pki/dev1.key" --device dev2 --journal "$T/j2"
  assert_failure 1
  assert_output "nexus-agent: --device 'dev2' but the certificate's CN is 'dev1': the broker would keep us out of device/dev2/ (the CN is the device id)"
  run nexus-agent --mqtt "mqtts://localhost:$MQ_PORT" --cafile "$T/pki/ca.crt" \
    --cert "$T/pki/ca.key" --key "$T/pki/dev1.key" --journal "$T/j2"
  assert_failure 1
  assert_output --partial 'no PEM certificate'
}

@test "systemd: READY=1 once running, STATUS=mqtt=up when connected" {
  start_broker
  socat -u UNIX-RECV:"$T/notify" OPEN:"$T/notify.out",creat,append &
  NX_PIDS+=($!)
  wait_file "$T/notify"
  NOTIFY_SOCKET="$T/notify" start_agent
  for _ in $(seq 100); do grep -q 'STATUS=mqtt=up' "$T/notify.out" && break; sleep 0.1; done
  assert_file_contains "$T/notify.out" 'READY=1'
  assert_file_contains "$T/notify.out" 'STATUS=mqtt=up'
}
