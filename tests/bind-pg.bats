#!/usr/bin/env bats
# nexus-bind on PostgreSQL (one server per suite): the scenarios of tests/lib/bind.bash.
load lib/common
load lib/bind
BIND_BACKEND=pg
setup_file() { bind_file_setup; }
teardown_file() { bind_file_teardown; }

@test "pg: pair a device, list and show it" { scenario_pair_and_show; }
@test "pg: a code typed loosely (case, dashes, I/L/O) is accepted" { scenario_code_typed_loosely; }
@test "pg: codes are stored hashed" { scenario_code_stored_hashed; }
@test "pg: a used code is refused" { scenario_reused_code_refused; }
@test "pg: wrong and malformed codes are refused" { scenario_wrong_and_malformed_codes; }
@test "pg: an expired code is refused" { scenario_expired_code; }
@test "pg: a code locks after 5 wrong attempts" { scenario_lock_after_five_failures; }
@test "pg: wrong claims are rate-limited globally" { scenario_global_rate_limit; }
@test "pg: a device bound to another owner needs an unbind" { scenario_bound_elsewhere_refused_until_unbind; }
@test "pg: two processes claim one code: exactly one wins" { scenario_claim_race; }
@test "pg: reissue records token ids, revoke deny-lists them" { scenario_revoke_and_reissue; }
@test "pg: audit trail says who did what from where" { scenario_audit_trail; }
@test "pg: usage errors exit 2" { scenario_usage_errors; }
@test "pg: code --qr draws a QR code" { scenario_qr; }
@test "pg: ingest 100000 lines: each state is the device's last line" { scenario_ingest_last_line_wins; }
@test "pg: ingest counts bad lines and goes on" { scenario_ingest_bad_lines; }
@test "pg: ingest killed midway leaves whole batches only" { scenario_ingest_killed_midway; }
@test "pg: concurrent first use creates the schema once" { scenario_concurrent_first_use; }
@test "pg: a different pairing key is refused" { scenario_key_mismatch; }
@test "pg: ingest of a live stream commits on idle and on SIGTERM" { scenario_ingest_stream_flush_and_term; }
@test "pg: claim keeps the device's public key" { scenario_pubkey_kept; }
@test "pg: unreachable or unusable stores fail clearly" { scenario_store_errors; }
@test "pg: a device-facing nexus-bind cannot make codes" { scenario_code_not_for_devices; }
@test "pg: claims killed at random moments leave no half-made binding" { scenario_claims_killed_midway; }
