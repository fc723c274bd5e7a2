#!/usr/bin/env bats
# The short soak (scripts/soak-tunnel): downloads and uploads, plain HTTP and TLS end to
# end, 0 B .. 8 MiB (frame and record edges included), random rate limits, re-auth every
# second, a tunnel and a hub restart midway (the first only after a re-auth); every
# completed transfer must match its sha256.
# The long run (1 GiB, up to 200 MB each) is `scripts/soak-tunnel`, reported in README.
load lib/common

@test "40 MiB of transfers both ways through restarts and re-auth: every byte checked" {
  run timeout 300 "$NEXUS_SRC/scripts/soak-tunnel" --bindir "$NEXUS_BINDIR" --total 40MiB \
    --max-size 8MiB --workers 2 --reauth 1 --seed 7
  echo "# ${lines[0]}" >&3
  assert_success
  assert_output --regexp 'transfers verified .* 0 corrupt, .* 0 gave up; faults: 2 restarts, [1-9][0-9]* re-authentications'
}

@test "soak-tunnel: a bad option is a usage error" {
  run "$NEXUS_SRC/scripts/soak-tunnel" --total lots
  assert_failure 2
  assert_output --partial "bad size 'lots'"
}
