#!/usr/bin/env bats
# rotate-key re-seals every record under a new key version in one transaction: afterwards
# the old key opens nothing and no old-version record is left; killed at any moment, every
# record opens with one of the two keys.
load lib/vault

# many N: store N credentials in one go (through the tool, one process per record is slow:
# a generated batch through `sh` keeps it to one put per record but no extra forks)
many() {
  local i
  for i in $(seq "$1"); do
    printf '{"type":"bearer","token":"tok-%d"}' "$i" | nexus-vault -k "$T/k1" put "r$i" || return 1
  done
}

@test "rotation re-encrypts everything; the old key and old-version records are gone" {
  many 20
  before=$(vsql "SELECT hex(record) FROM secrets ORDER BY name")
  run nexus-vault -k "$T/k1" rotate-key --new-key-file "$T/k2"
  assert_success
  assert_output 'nexus-vault: 20 credentials re-encrypted under key version 2'
  [ "$(vsql "SELECT count(*) FROM secrets WHERE key_version <> 2")" = 0 ]
  [ "$(vsql "SELECT group_concat(version) FROM keys")" = 2 ]
  after=$(vsql "SELECT hex(record) FROM secrets ORDER BY name")
  # no ciphertext survives, not even in the WAL or a freed page
  first_old=$(printf '%s\n' "$before" | head -1 | cut -c9-40)
  run sh -c "xxd -p '$T'/vault.db* | tr -d '\n' | grep -ci '$first_old'"
  assert_output 0
  [ "$before" != "$after" ]
  run nexus-vault -k "$T/k2" get r7
  assert_success; assert_output tok-7
  run nexus-vault -k "$T/k1" get r7
  assert_failure 1; assert_output --partial 'wrong master key'
  # the same key again is refused; a new put goes under version 2
  run nexus-vault -k "$T/k2" rotate-key --new-key-file "$T/k2"
  assert_failure 1; assert_output --partial 'already key version 2'
  printf '{"type":"bearer","token":"n"}' | nexus-vault -k "$T/k2" put new
  [ "$(vsql "SELECT key_version FROM secrets WHERE name='new'")" = 2 ]
  # and again: version 3
  nexus-token keygen -t hs256 -o "$T/k3"
  run nexus-vault -k "$T/k2" rotate-key --new-key-file "$T/k3"
  assert_output 'nexus-vault: 21 credentials re-encrypted under key version 3'
}

@test "rotation with the wrong old key is refused and changes nothing" {
  many 3
  nexus-token keygen -t hs256 -o "$T/k3"
  run nexus-vault -k "$T/k3" rotate-key --new-key-file "$T/k2"
  assert_failure 1; assert_output --partial 'wrong master key'
  run nexus-vault -k "$T/k1" get r1
  assert_output tok-1
}

@test "SIGKILL during a rotation of 2000 records leaves every record readable with one key" {
  local i=0 line cur="$T/k1" killed=0 round=0 delay next
  for i in $(seq 2000); do printf '{"type":"bearer","token":"tok-%d"}\n' "$i"; done > "$T/creds"
  i=0
  while IFS= read -r line; do
    i=$((i + 1))
    printf '%s' "$line" | nexus-vault -k "$T/k1" put "r$i"
  done < "$T/creds"
  [ "$(vsql 'SELECT count(*) FROM secrets')" = 2000 ]
  # kill at different moments; whatever the moment, one of the two keys opens all 2000
  for delay in 0.02 0.05 0.1 0.2 0.4; do
    round=$((round + 1)) next="$T/key.$round"
    nexus-token keygen -t hs256 -o "$next"
    nexus-vault -k "$cur" rotate-key --new-key-file "$next" 2>/dev/null &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    wait "$pid" 2>/dev/null || true
    if ! nexus-vault -k "$cur" ls > "$T/ls" 2>"$T/err"; then
      grep -q 'wrong master key' "$T/err"
      nexus-vault -k "$next" ls > "$T/ls"
      cur=$next
    fi
    [ "$(grep -c "$(printf '\tbearer\t')" "$T/ls")" = 2000 ]
    run nexus-vault -k "$cur" get r1999
    assert_output tok-1999
    [ "$(vsql 'SELECT count(DISTINCT key_version) FROM secrets')" = 1 ]
  done
  echo "# killed $killed of 5 rotations in flight" >&3
}
