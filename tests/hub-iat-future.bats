#!/usr/bin/env bats
# A stage 0 token with an iat far in the future would outlive handshake_max_age_seconds
# (its age looks negative). The hub refuses an iat more than 60 s (plus --leeway) ahead of
# its clock; a backend whose clock runs a few seconds ahead is still let in.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
  start_web plain; PLAIN_PORT=$WEB_PORT
  start_hub --auth-timeout 5s
  start_relay
}

# backend NAME IAT_OFFSET: a fake backend whose token command issues with iat = now + OFFSET,
# a 2 h lifetime and a 10 s handshake maximum age
backend() {
  local name=$1 off=$2
  timeout 20 "$HELPERS/fake-backend" --hub "127.0.0.1:$HUB_PORT" --ca "$T/hub.crt" \
    --secret "$T/hub.secret" --name "$name" --hostname "$name.test" \
    --target "127.0.0.1:$PLAIN_PORT" \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend --sub $name --ttl 2h \
      --claim handshake_max_age_seconds=10 --claim iat=\$((\$(date +%s) + $off))"
}

@test "a handshake token issued an hour in the future is refused with 1008" {
  run backend ahead-1h 3600
  assert_failure 3
  assert_output --partial 'closed code=1008'
  wait_log "$T/hub.log" 'msg="backend refused".*issued in the future'
  echo "# $(grep -c 'issued in the future' "$T/hub.log") refusal(s) logged" >&3
}

@test "a token 5 s ahead (a clock running fast) is accepted" {
  start_fake ahead-5s --hostname ahead-5s.test --target "127.0.0.1:$PLAIN_PORT" \
    --token-cmd "nexus-token issue -k '$T/hub.secret' --backend --sub ahead-5s \
      --claim handshake_max_age_seconds=10 --claim iat=\$((\$(date +%s) + 5))"
  wait_log "$T/hub.log" 'backend registered.*backend=ahead-5s'
}
