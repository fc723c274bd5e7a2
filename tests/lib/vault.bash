# Helpers for the nexus-vault suites: a fresh database and master key per test.
load lib/common

suite_setup() {
  export NEXUS_VAULT_DB="$T/vault.db"
  nexus-token keygen -t hs256 -o "$T/k1"
  head -c 32 /dev/urandom > "$T/k2"; chmod 600 "$T/k2"
  unset NEXUS_VAULT_KEY
}

# vput NAME JSON: store JSON under NAME with key k1
vput() { printf '%s' "$2" | nexus-vault -k "$T/k1" put "$1"; }
# vsql SQL: run SQL on the vault's database
vsql() { sqlite3 -cmd ".timeout 10000" "$NEXUS_VAULT_DB" "$1"; }
