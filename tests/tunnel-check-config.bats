#!/usr/bin/env bats
# nexus-tunnel -n / --check-config: checks options, maps, the key and the CA file without
# dialling anything; exit 0 with a one-line summary, 1 for a file that is unusable, 2 for a
# usage error (also one in the --config file). With a gate it starts none of the gate's
# threads (revocations, ACME).
load lib/common
load lib/tunnel
bats_require_minimum_version 1.5.0

suite_setup() {
  tunnel_keys
  cat > "$T/tunnel.conf" <<CONF
hub wss://127.0.0.1:1/connect
servername localhost
cafile $T/hub.crt
secret-file $T/hub.secret
hostname app.test
tcp-port 2222
map app.test:443=127.0.0.1:8443,proxy=v2
map 2222=127.0.0.1:22
to 127.0.0.1:8080
CONF
}

@test "a good configuration: exit 0, the summary on stdout, nothing dialled" {
  run --separate-stderr nexus-tunnel -n --config "$T/tunnel.conf"
  assert_success
  assert_output "nexus-tunnel: configuration OK: app.test, port 2222 via wss://127.0.0.1:1/connect: app.test:443 → 127.0.0.1:8443 (PROXY v2), port 2222 → 127.0.0.1:22, otherwise → 127.0.0.1:8080"
  [ -z "$stderr" ]
  run nexus-tunnel --check-config --config "$T/tunnel.conf" --proxy-protocol v1
  assert_success
  assert_output --partial "otherwise → 127.0.0.1:8080 (PROXY v1)"
}

@test "files that cannot be used: exit 1, one line naming the file" {
  run nexus-tunnel -n --config "$T/tunnel.conf" --secret-file "$T/missing.secret"
  assert_failure 1
  assert_output "nexus-tunnel: cannot read $T/missing.secret: No such file or directory"
  echo "not a certificate" > "$T/bad.crt"
  run nexus-tunnel -n --config "$T/tunnel.conf" --cafile "$T/bad.crt"
  assert_failure 1
  assert_output --partial "$T/bad.crt"
  [ "${#lines[@]}" -eq 1 ]
  run nexus-tunnel -n --config "$T/tunnel.conf" --cafile "$T/none.crt"
  assert_failure 1
  assert_output --partial "$T/none.crt"
  # a public key cannot sign tokens
  nexus-token keygen -t es256 -o "$T/signer.key" >/dev/null
  run nexus-tunnel -n --config "$T/tunnel.conf" --secret-file "$T/signer.key.pub"
  assert_failure 1
  assert_output --partial "a public key cannot sign tokens"
}

@test "usage errors, on the command line or in the file: exit 2" {
  echo "map app.test=127.0.0.1" >> "$T/tunnel.conf"
  run nexus-tunnel -n --config "$T/tunnel.conf"
  assert_failure 2
  assert_line --index 0 "nexus-tunnel: --map app.test=127.0.0.1: bad address 127.0.0.1"
  assert_line --index 1 "try 'nexus-tunnel --help'"
  echo "no-such-option 1" > "$T/other.conf"
  run nexus-tunnel -n --config "$T/other.conf"
  assert_failure 2
  run nexus-tunnel -n --hub wss://127.0.0.1:1/connect --secret-file "$T/hub.secret" --to 127.0.0.1:1
  assert_failure 2
  assert_line --index 0 --partial "nexus-tunnel: nothing to serve: give --hostname NAME or --tcp-port N"
}

@test "with a gate: -n loads its keys and certificate but fetches no revocations and runs no ACME" {
  nexus-token keygen -t es256 -o "$T/grant.key" >/dev/null
  # a listener that counts who dials it: the revocations URL and the ACME directory
  P=$(free_port)
  python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(3)
n = 0
try:
    while True:
        c, _ = s.accept(); n += 1; c.close()
except socket.timeout:
    pass
open(sys.argv[2], "w").write(str(n))' "$P" "$T/dialled" &
  L=$!
  wait_port "$P" # its probe is the one connection the listener should see
  run --separate-stderr nexus-tunnel -n --config "$T/tunnel.conf" --gate-host app.test \
    --gate-verify-key "$T/grant.key.pub" --gate-revocations "http://127.0.0.1:$P/v1/revocations" \
    --gate-acme-directory "http://127.0.0.1:$P/dir" --gate-acme-dir "$T/acme"
  assert_success
  assert_output --partial 'configuration OK'
  wait "$L"
  [ "$(cat "$T/dialled")" = 1 ]
}
