#!/usr/bin/env bats
# A paired device gets a token carrying its binding; revoking the device makes that token
# fail verification: nexus-bind claim | nexus-token issue --claims -, then nexus-bind revoke.
load lib/common

suite_setup() {
  export NEXUS_DB="$T/bind.db" NEXUS_BIND_KEY="$T/bind.key" NEXUS_DENY_LIST="$T/deny.list"
  nexus-token keygen -t es256 -o "$T/hub.key"
}

@test "claim | nexus-token issue: the token carries the binding and verifies" {
  code=$(nexus-bind code --owner alice --scope tunnel)
  nexus-bind claim "$code" --device sensor-17 > "$T/binding.json"
  nexus-token issue -k "$T/hub.key" --ttl 1h --claims - < "$T/binding.json" > "$T/tok"
  run nexus-token verify -k "$T/hub.key.pub" --deny-list "$NEXUS_DENY_LIST" --require owner "$(cat "$T/tok")"
  assert_success
  run nexus-token inspect --json "$(cat "$T/tok")"
  assert_success
  jti=$(jq -r .jti "$T/binding.json")
  echo "$output" | jq -e --arg j "$jti" '
    .claims as $p | $p.sub == "sensor-17" and $p.owner == "alice" and $p.scope == "tunnel"
    and $p.jti == $j'
}

@test "revoke puts the device's token ids on the deny-list nexus-token verify honours" {
  code=$(nexus-bind code --owner alice)
  nexus-bind claim "$code" --device sensor-17 |
    nexus-token issue -k "$T/hub.key" --ttl 1h --claims - > "$T/tok1"
  # a second token for the same device, its id recorded with reissue
  nexus-bind reissue sensor-17 |
    nexus-token issue -k "$T/hub.key" --ttl 1h --claims - > "$T/tok2"
  for t in tok1 tok2; do
    run nexus-token verify -k "$T/hub.key.pub" --deny-list "$NEXUS_DENY_LIST" "$(cat "$T/$t")"
    assert_success
  done
  run nexus-bind revoke sensor-17
  assert_success
  for t in tok1 tok2; do
    run nexus-token verify -k "$T/hub.key.pub" --deny-list "$NEXUS_DENY_LIST" "$(cat "$T/$t")"
    assert_failure 1
    assert_output --partial 'revoked'
  done
  # another device's token is untouched
  code=$(nexus-bind code --owner bob)
  nexus-bind claim "$code" --device other |
    nexus-token issue -k "$T/hub.key" --ttl 1h --claims - > "$T/tok3"
  run nexus-token verify -k "$T/hub.key.pub" --deny-list "$NEXUS_DENY_LIST" "$(cat "$T/tok3")"
  assert_success
}
