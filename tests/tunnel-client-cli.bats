#!/usr/bin/env bats
# nexus-tunnel's command line: help, version, and every usage error with a clear line and
# exit status 2; setup failures (unreadable CA or key) exit 1 without retrying.
load lib/common

suite_setup() {
  printf 'nexus-vectors-test-secret\n' > "$T/secret"
  chmod 600 "$T/secret"
}

tunnel() { nexus-tunnel "$@"; }
ok_args=(--hub wss://localhost:1/connect --secret-file "$BATS_TEST_TMPDIR/secret" --hostname app.test --to 127.0.0.1:8080)

@test "--help prints the usage on stdout and exits 0; --version names the program" {
  run tunnel --help
  assert_success
  assert_output --partial "usage: nexus-tunnel --hub wss://"
  assert_output --partial "--exec CMD"
  run tunnel --version
  assert_success
  assert_output --regexp '^nexus-tunnel [0-9]+\.[0-9]+'
}

@test "usage errors exit 2 with one clear line" {
  run tunnel --secret-file "$T/secret" --hostname app.test --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "--hub URL is required"
  run tunnel --hub ws://hub:80/connect --secret-file "$T/secret" --hostname a.test --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "the hub only speaks TLS, use wss://"
  run tunnel --hub wss://hub:99999/connect --secret-file "$T/secret" --hostname a.test --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "bad port"
  run tunnel --hub wss://hub/connect --hostname a.test --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "exactly one of --secret-file and --token-cmd"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --token-cmd true --hostname a.test --to 127.0.0.1:1
  assert_failure 2
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "nothing to serve"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --hostname a.test
  assert_failure 2
  assert_output --partial "no target"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --hostname a.test --to 127.0.0.1:1 --exec cat
  assert_failure 2
  assert_output --partial "--exec cannot be combined"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --hostname a.test --map a.test
  assert_failure 2
  assert_output --partial "expected HOSTNAME=HOST:PORT"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --hostname '*.com' --to 127.0.0.1:1
  assert_failure 2
  assert_output --partial "--hostname"
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --tcp-port 0 --to 127.0.0.1:1
  assert_failure 2
  run tunnel --hub wss://hub/connect --secret-file "$T/secret" --hostname a.test --to nowhere
  assert_failure 2
  assert_output --partial "--to: bad address"
  run tunnel --hub wss://hub/connect --secret-file "$T/missing" --hostname a.test --to 127.0.0.1:1
  assert_failure 1
  assert_output "nexus-tunnel: cannot read $T/missing: No such file or directory"
  run tunnel "${ok_args[@]}" stray
  assert_failure 2
  assert_output --partial "unexpected argument 'stray'"
}

@test "an unreadable CA file or a public key as secret exits 1 at once" {
  run tunnel "${ok_args[@]}" --cafile "$T/nope.pem"
  assert_failure 1
  assert_output --partial "nope.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k" \
    -out "$T/c.pem" -days 1 -subj /CN=x >/dev/null 2>&1
  openssl pkey -in "$T/k" -pubout -out "$T/pub.pem" 2>/dev/null
  run tunnel --hub wss://localhost:1/connect --secret-file "$T/pub.pem" --hostname a.test --to 127.0.0.1:1 --cafile "$T/c.pem"
  assert_failure 1
  assert_output --partial "cannot sign"
}

@test "options also come from NEXUS_TUNNEL_* and --config" {
  cat > "$T/conf" <<EOF
# a config file
hub wss://localhost:1/connect
hostname app.test
to 127.0.0.1:8080
EOF
  NEXUS_TUNNEL_SECRET_FILE="$T/secret" NEXUS_TUNNEL_CAFILE="$T/none.pem" run tunnel --config "$T/conf"
  assert_failure 1
  assert_output --partial "none.pem"
}

@test "a secret readable by others draws a warning" {
  chmod 644 "$T/secret"
  run timeout 2 nexus-tunnel "${ok_args[@]}" --cafile "$T/none.pem"
  assert_output --partial "readable by group or others"
}
