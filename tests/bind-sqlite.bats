#!/usr/bin/env bats
# nexus-bind on SQLite: the scenarios of tests/lib/bind.bash.
load lib/common
load lib/bind
BIND_BACKEND=sqlite

@test "sqlite: pair a device, list and show it" { scenario_pair_and_show; }
@test "sqlite: a code typed loosely (case, dashes, I/L/O) is accepted" { scenario_code_typed_loosely; }
@test "sqlite: codes are stored hashed" { scenario_code_stored_hashed; }
@test "sqlite: a used code is refused" { scenario_reused_code_refused; }
@test "sqlite: wrong and malformed codes are refused" { scenario_wrong_and_malformed_codes; }
@test "sqlite: an expired code is refused" { scenario_expired_code; }
@test "sqlite: a code locks after 5 wrong attempts" { scenario_lock_after_five_failures; }
@test "sqlite: wrong claims are rate-limited globally" { scenario_global_rate_limit; }
@test "sqlite: a device bound to another owner needs an unbind" { scenario_bound_elsewhere_refused_until_unbind; }
@test "sqlite: two processes claim one code: exactly one wins" { scenario_claim_race; }
@test "sqlite: reissue records token ids, revoke deny-lists them" { scenario_revoke_and_reissue; }
@test "sqlite: audit trail says who did what from where" { scenario_audit_trail; }
@test "sqlite: usage errors exit 2" { scenario_usage_errors; }
@test "sqlite: code --qr draws a QR code" { scenario_qr; }
@test "sqlite: ingest 100000 lines: each state is the device's last line" { scenario_ingest_last_line_wins; }
@test "sqlite: ingest counts bad lines and goes on" { scenario_ingest_bad_lines; }
@test "sqlite: ingest killed midway leaves whole batches only" { scenario_ingest_killed_midway; }
@test "sqlite: concurrent first use creates the schema once" { scenario_concurrent_first_use; }
@test "sqlite: a different pairing key is refused" { scenario_key_mismatch; }
@test "sqlite: ingest of a live stream commits on idle and on SIGTERM" { scenario_ingest_stream_flush_and_term; }
@test "sqlite: claim keeps the device's public key" { scenario_pubkey_kept; }
@test "sqlite: unreachable or unusable stores fail clearly; the file is private" { scenario_store_errors; }
@test "sqlite: a device-facing nexus-bind cannot make codes" { scenario_code_not_for_devices; }
@test "sqlite: claims killed at random moments leave no half-made binding" { scenario_claims_killed_midway; }
@test "sqlite: options from --config FILE" { scenario_config_file; }
