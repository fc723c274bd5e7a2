#!/usr/bin/env bats
# A record is bound to its name and key version: copied, flipped, relabelled or opened with
# the wrong master key, it is refused with one clear line, exit 1.
load lib/vault

setup_records() {
  vput a '{"type":"bearer","token":"tok-a"}'
  vput b '{"type":"bearer","token":"tok-b"}'
}

@test "a record copied to another name is refused" {
  setup_records
  vsql "UPDATE secrets SET record = (SELECT record FROM secrets WHERE name='a') WHERE name='b'"
  run nexus-vault -k "$T/k1" get b
  assert_failure 1
  assert_output "nexus-vault: credential 'b' refused: does not authenticate (wrong key, a record moved or altered)"
  vsql "INSERT INTO secrets SELECT 'c', key_version, record, updated FROM secrets WHERE name='a'"
  run nexus-vault -k "$T/k1" header c
  assert_failure 1
  assert_output --partial "credential 'c' refused"
  run nexus-vault -k "$T/k1" get a
  assert_success; assert_output tok-a
}

@test "a flipped bit anywhere in a record is refused" {
  setup_records
  len=$(vsql "SELECT length(record) FROM secrets WHERE name='a'")
  for pos in 5 10 17 20 $((len - 3)) $len; do
    cp "$NEXUS_VAULT_DB" "$T/flip.db"
    python3 - "$T/flip.db" "$pos" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); pos = int(sys.argv[2]) - 1
r = bytearray(c.execute("SELECT record FROM secrets WHERE name='a'").fetchone()[0])
r[pos] ^= 0x04
c.execute("UPDATE secrets SET record=? WHERE name='a'", (bytes(r),)); c.commit()
PY
    run nexus-vault --db "$T/flip.db" -k "$T/k1" get a
    assert_failure 1
    assert_output --regexp "credential 'a' refused: (does not authenticate|stored record has an unknown format)"
  done
  vsql "UPDATE secrets SET record = substr(record, 1, 10) WHERE name='a'"
  run nexus-vault -k "$T/k1" get a
  assert_failure 1; assert_output --partial 'too short'
}

@test "a record relabelled with another key version is refused" {
  setup_records
  vsql "UPDATE secrets SET key_version = 2 WHERE name='a'"
  run nexus-vault -k "$T/k1" get a
  assert_failure 1
  assert_output --partial "credential 'a' is under key version 2, not the version of the key given (1): refused"
  # ls lists the others and names the refused one
  run nexus-vault -k "$T/k1" ls
  assert_failure 1
  assert_output --partial "$(printf 'b\tbearer\t-')"
  assert_output --partial "$(printf 'a\t?\trefused')"
  # a version label that matches the key in use, on a record sealed under another version:
  # rotate to k2 (version 2), then put back the version-1 ciphertext labelled version 2
  vsql "UPDATE secrets SET key_version = 1 WHERE name='a'"
  old=$(vsql "SELECT hex(record) FROM secrets WHERE name='a'")
  nexus-vault -k "$T/k1" rotate-key --new-key-file "$T/k2"
  vsql "UPDATE secrets SET record = X'$old' WHERE name='a'"
  run nexus-vault -k "$T/k2" get a
  assert_failure 1; assert_output --partial "credential 'a' refused: does not authenticate"
}

@test "a wrong master key gives a clear error and touches nothing" {
  setup_records
  before=$(vsql "SELECT hex(record) FROM secrets ORDER BY name")
  for verb in "get a" "header a" ls "rm a" "exec a -- true"; do
    run nexus-vault -k "$T/k2" $verb
    assert_failure 1
    assert_output "nexus-vault: wrong master key: it opens none of the 1 key version in $NEXUS_VAULT_DB"
  done
  run sh -c "printf '%s' '{\"type\":\"bearer\",\"token\":\"x\"}' | nexus-vault -k '$T/k2' put z"
  assert_failure 1; assert_output --partial 'wrong master key'
  [ "$(vsql "SELECT hex(record) FROM secrets ORDER BY name")" = "$before" ]
  run nexus-vault -k "$T/k1" get b
  assert_success; assert_output tok-b
}
