#!/usr/bin/env bats
# nexus-hub -n/--check-config loads and checks everything the configuration names (the
# certificate and key, the secret, the backends file, the deny-list) without binding
# anything, prints a one-line summary and exits 0; a file that does not load is one line
# naming it and exit 1; a usage error is still exit 2.
load lib/common
load lib/tunnel

suite_setup() {
  tunnel_keys
}

hub_n() {
  nexus-hub -n --listen 127.0.0.1:1 --relay-socket "$T/never.sock" "$@"
}

@test "-n: a good configuration is OK, nothing bound" {
  run hub_n --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" --allow-tcp-port 7000
  assert_success
  assert_output "nexus-hub: configuration OK: listen=127.0.0.1:1 relay_socket=$T/never.sock auth=secret allow_tcp_ports=1"
  [ ! -e "$T/never.sock" ]
  nexus-token keygen -t es256 -o "$T/edge.key" --backends-line edge app.test > "$T/backends"
  run hub_n --cert "$T/hub.crt" --key "$T/hub.key" --check-config --backends "$T/backends"
  assert_success
  assert_output --partial "auth=backends"
}

@test "-n: a file that does not load is exit 1, naming it" {
  echo 'not a certificate' > "$T/bad.crt"
  run hub_n --cert "$T/bad.crt" --key "$T/hub.key" --secret-file "$T/hub.secret"
  assert_failure 1
  assert_output --partial "$T/bad.crt"
  [ "${#lines[@]}" -eq 1 ]
  run hub_n --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/missing.secret"
  assert_failure 1
  assert_output --partial "missing.secret"
  printf 'edge garbage host=app.test\n' > "$T/backends"
  run hub_n --cert "$T/hub.crt" --key "$T/hub.key" --backends "$T/backends"
  assert_failure 1
  assert_output --partial "line 1"
  run hub_n --cert "$T/hub.crt" --key "$T/hub.key" --secret-file "$T/hub.secret" --allow-tcp-port 0
  assert_failure 2
}

@test "-n: an ACME configuration without --cert is one, and the summary names the directory" {
  run nexus-hub -n --listen 127.0.0.1:1 --relay-socket "$T/never.sock" --secret-file "$T/hub.secret" \
    --acme-directory https://127.0.0.1:1/dir --acme-email ops@example.test --hub-hostname hub.test \
    --acme-dir "$T/acme"
  assert_success
  assert_output --partial 'acme=https://127.0.0.1:1/dir'
  [ ! -e "$T/never.sock" ]
}
