#!/usr/bin/env bats
# nexus-token issue --backend as a token command: the Nexus Proxy client reads the command's
# stdout and stderr together and takes the first line as the token, so in --backend mode
# nothing but a fatal error may reach stderr. Elsewhere -q silences the warnings.
load lib/common
load lib/tunnel-client
bats_require_minimum_version 1.5.0

suite_setup() {
  # a secret that draws both warnings: readable by others, and shorter than 32 bytes
  printf 'short-and-loose-secret\n' > "$T/loose"; chmod 644 "$T/loose"
}

@test "without --backend the warnings are on stderr; -q silences them" {
  run --separate-stderr nexus-token issue -k "$T/loose" --sub a
  assert_success
  [[ "$stderr" == *"warning: $T/loose is readable by group or others"* ]]
  [[ "$stderr" == *"shorter than 32 bytes"* ]]
  run --separate-stderr nexus-token issue -q -k "$T/loose" --sub a
  assert_success
  [ -z "$stderr" ]
  [ "${#lines[@]}" -eq 1 ]
  tok=$output
  run --separate-stderr nexus-token verify --quiet -k "$T/loose" "$tok"
  assert_success
  [ -z "$stderr" ]
}

@test "issue --backend: one line on stdout, nothing on stderr, even with a loose short secret" {
  NEXUS_ATTESTATION_STAGE=handshake NEXUS_HOSTNAMES=app.test \
    run --separate-stderr nexus-token issue -k "$T/loose" --backend --sub edge-1
  assert_success
  [ -z "$stderr" ]
  [ "${#lines[@]}" -eq 1 ]
  assert_output --regexp '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
}

@test "issue --backend: a fatal error still goes to stderr, exit 1" {
  run --separate-stderr nexus-token issue -k "$T/missing" --backend
  assert_failure 1
  [ -z "$output" ]
  [[ "$stderr" == "nexus-token: $T/missing"* ]]
}

@test "as a token command read with stderr merged (the Go client's way), the tunnel serves" {
  make_pki
  chmod 644 "$T/secret" # loose, and shorter than 32 bytes
  start_fake_hub
  start_tunnel --token-cmd "nexus-token issue -k '$T/secret' --backend 2>&1" \
    --hostname app.test --to 127.0.0.1:9
  wait_serving
}
