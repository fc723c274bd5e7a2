#!/usr/bin/env bats
# One set of command-line conventions in every command (README "Conventions"):
#   -h/--help: usage on stdout naming every option, exit 0
#   -V/--version: "nexus-X VERSION", exit 0
#   usage error: exactly "nexus-X: <what is wrong>" and "try 'nexus-X --help'", exit 2
#   runtime failure: one line naming the thing and the reason (named once), exit 1
# The tables below are the conventions' test: a row per case, every command in each table.
load lib/common
load lib/commands
bats_require_minimum_version 1.5.0


setup_file() {
  F="$BATS_FILE_TMPDIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$F/k.pem" \
    -out "$F/c.pem" -subj /CN=hub.test -days 1 2>/dev/null
  nexus-token keygen -t hs256 -o "$F/s.secret"
  export F
}

# fails: collect failures of a table, report them all at the end of the test
FAILS=""
fail_row() { FAILS="$FAILS"$'\n'"  $*"; }
report() {
  if [ -n "$FAILS" ]; then
    echo "failed rows:$FAILS"
    return 1
  fi
}

# usage_row PROG FRAGMENT ARGS...: a usage error naming FRAGMENT, in the one-line format.
usage_row() {
  local prog=$1 frag=$2
  shift 2
  local out err rc
  out=$("$prog" "$@" 2>"$T/err" </dev/null) && rc=0 || rc=$?
  err=$(cat "$T/err")
  local want2="try '$prog --help'"
  local l1 l2 n
  n=$(printf '%s\n' "$err" | wc -l)
  l1=$(printf '%s\n' "$err" | sed -n 1p)
  l2=$(printf '%s\n' "$err" | sed -n 2p)
  if [ "$rc" -ne 2 ]; then fail_row "$prog $*: exit $rc, want 2 ($err)"; return; fi
  if [ -n "$out" ]; then fail_row "$prog $*: wrote to stdout: $out"; fi
  if [ "$n" -ne 2 ]; then fail_row "$prog $*: $n lines on stderr, want 2: $err"; return; fi
  case "$l1" in "$prog: "*) ;; *) fail_row "$prog $*: first line not '$prog: ...': $l1" ;; esac
  case "$l1" in *"$frag"*) ;; *) fail_row "$prog $*: '$l1' does not mention '$frag'" ;; esac
  [ "$l2" = "$want2" ] || fail_row "$prog $*: second line '$l2', want \"$want2\""
}

# runtime_row PROG THING ARGS...: a runtime failure, exit 1, one line naming THING once.
runtime_row() {
  local prog=$1 thing=$2
  shift 2
  local rc err n count
  timeout 20 "$prog" "$@" >/dev/null 2>"$T/err" </dev/null && rc=0 || rc=$?
  err=$(cat "$T/err")
  n=$(printf '%s\n' "$err" | grep -c . || true)
  count=$(printf '%s\n' "$err" | grep -o -F -- "$thing" | wc -l)
  if [ "$rc" -ne 1 ]; then fail_row "$prog $*: exit $rc, want 1 ($err)"; return; fi
  [ "$n" -eq 1 ] || fail_row "$prog $*: $n lines on stderr, want 1: $err"
  [ "$count" -eq 1 ] || fail_row "$prog $*: '$thing' named $count times: $err"
  case "$err" in *"bin/$prog"*) fail_row "$prog $*: program path in the message: $err" ;; esac
}


@test "--help and -h print usage naming every option, exit 0" {
  local p o
  for p in $COMMANDS; do
    for o in --help -h; do
      run --separate-stderr "$p" $o
      [ "$status" -eq 0 ] || fail_row "$p $o: exit $status"
      [ -z "$stderr" ] || fail_row "$p $o: wrote to stderr: $stderr"
      case "$output" in "usage: $p"*) ;; *) fail_row "$p $o: does not start with 'usage: $p'" ;; esac
    done
    run "$p" --help
    for o in $(long_options "$p"); do
      printf '%s\n' "$output" | grep -q -- "--$o\b" || fail_row "$p --help: --$o not described"
    done
  done
  report
}

@test "--version and -V print 'nexus-X VERSION', exit 0" {
  local p o want
  for p in $COMMANDS; do
    want="$p $(cat "$NEXUS_SRC/VERSION")"
    for o in --version -V; do
      run --separate-stderr "$p" $o
      [ "$status" -eq 0 ] || fail_row "$p $o: exit $status"
      [ "$output" = "$want" ] || fail_row "$p $o: '$output', want '$want'"
    done
  done
  report
}

@test "an unknown option is a one-line usage error naming it" {
  local p
  for p in nexus-hub nexus-relay nexus-tunnel nexus-mqtt2kafka nexus-agent; do
    usage_row "$p" "unknown option '--no-such-option'" --no-such-option
    usage_row "$p" "unknown option '--no-such-option'" --no-such-option=3
    usage_row "$p" "unknown option '-Z'" -Z
  done
  local v
  for v in keygen issue verify inspect revoke login; do
    usage_row nexus-token "unknown option '--no-such-option'" "$v" --no-such-option
  done
  usage_row nexus-token "unknown verb" frobnicate
  usage_row nexus-bind "unknown option '--no-such-option'" ls --no-such-option
  usage_row nexus-bind "unknown verb" frobnicate
  usage_row nexus-agent "unknown option '--no-such-option'" send --no-such-option
  usage_row nexus-vault "unknown option '--no-such-option'" ls --no-such-option
  usage_row nexus-vault "unknown option '-Z'" get x -Z
  usage_row nexus-vault "unknown verb" frobnicate
  report
}

@test "an option without its value is a one-line usage error naming it" {
  usage_row nexus-hub "'--listen' needs a value" --listen
  usage_row nexus-relay "'--route' needs a value" --route
  usage_row nexus-tunnel "'--hub' needs a value" --hub
  usage_row nexus-token "'-k' needs a value" issue -k
  usage_row nexus-bind "'--owner' needs a value" code --owner
  usage_row nexus-mqtt2kafka "'--kafka' needs a value" --kafka
  usage_row nexus-agent "'--mqtt' needs a value" --mqtt
  usage_row nexus-vault "'--db' needs a value" ls --db
  report
}

# drop_each PROG 'VERB' 'OPT VALUE' ...: with all the pairs the command goes past option
# checking; without any one of them it is a usage error naming the missing option.
drop_each() {
  local prog=$1 verb=$2
  shift 2
  local all=("$@") i j args
  for i in "${!all[@]}"; do
    args=()
    [ -n "$verb" ] && args+=($verb)
    for j in "${!all[@]}"; do
      [ "$i" -eq "$j" ] || args+=(${all[$j]})
    done
    usage_row "$prog" "${all[$i]%% *}" "${args[@]}"
  done
}

@test "each required option missing is a one-line usage error naming it" {
  drop_each nexus-hub "" "--listen 127.0.0.1:0" "--cert $F/c.pem" "--key $F/k.pem" \
    "--secret-file $F/s.secret" "--relay-socket $F/r.sock"
  drop_each nexus-relay "" "--hub $F/r.sock"
  drop_each nexus-tunnel "" "--hub wss://127.0.0.1:9/connect" "--secret-file $F/s.secret" \
    "--hostname a.test" "--to 127.0.0.1:9"
  drop_each nexus-token keygen "-t hs256" "-o $T/new.secret"
  drop_each nexus-token issue "-k $F/s.secret"
  drop_each nexus-token verify "-k $F/s.secret"
  drop_each nexus-token revoke "--deny-list $T/deny.list"
  drop_each nexus-bind code "--owner alice"
  drop_each nexus-bind "claim CODE" "--device d1"
  drop_each nexus-mqtt2kafka "" "--mqtt mqtt://127.0.0.1:9" "--kafka 127.0.0.1:9" "--map a/#=t"
  drop_each nexus-agent "" "--mqtt mqtt://127.0.0.1:9" "--device d1"
  drop_each nexus-agent "send" "--mqtt mqtt://127.0.0.1:9" "--device d1"
  drop_each nexus-token login "--issuer https://id.test" "--client-id c1"
  drop_each nexus-bind "session CODE" "--user-token $F/s.secret" "--verify-key $F/s.secret" \
    "--grant-key $F/s.secret" "--host a.test"
  drop_each nexus-vault "rotate-key" "--new-key-file $F/s.secret"
  drop_each nexus-vault "connect cred1" "--issuer https://id.test" "--client-id c1"
  report
}

@test "a bad value of each kind is a one-line usage error naming the option" {
  # kind: address
  usage_row nexus-hub "--listen" --listen 127.0.0.1
  usage_row nexus-relay "--listen" --listen 127.0.0.1 --hub "$F/r.sock"
  usage_row nexus-tunnel "--to" --hub wss://127.0.0.1:9/connect --secret-file "$F/s.secret" \
    --hostname a.test --to 127.0.0.1
  usage_row nexus-tunnel "--hub" --hub http://127.0.0.1:9/connect
  usage_row nexus-mqtt2kafka "--mqtt" --mqtt ftp://x --kafka 127.0.0.1:9 --map 'a/#=t'
  usage_row nexus-bind "--listen" serve --listen 127.0.0.1
  usage_row nexus-agent "--mqtt" --mqtt ftp://x --device d1
  # kind: duration
  usage_row nexus-hub "--idle-timeout" --idle-timeout 10x
  usage_row nexus-relay "--grace" --grace 10x
  usage_row nexus-tunnel "--ping" --ping 10x
  usage_row nexus-token "--ttl" issue -k "$F/s.secret" --ttl 10x
  usage_row nexus-bind "--ttl" code --owner alice --ttl 10x
  usage_row nexus-mqtt2kafka "--drain-timeout" --drain-timeout 10x
  usage_row nexus-agent "--interval" --interval 10x
  usage_row nexus-vault "--timeout" connect cred1 --issuer https://id.test --client-id c1 \
    --timeout 10x
  # kind: a name (nexus-vault: a credential name)
  usage_row nexus-vault "credential name" get '../etc'
  # kind: size
  usage_row nexus-mqtt2kafka "--spool-max" --spool-max 10Q
  usage_row nexus-tunnel "--max-frame" --max-frame 10Q
  usage_row nexus-bind "--max-body" serve --max-body 10Q
  usage_row nexus-agent "--max-output" --max-output 10Q
  # kind: integer
  usage_row nexus-hub "--allow-tcp-port" --allow-tcp-port 70000
  usage_row nexus-hub "--workers" --workers 0
  usage_row nexus-hub "--workers" --workers x
  usage_row nexus-relay "--max-conns" --max-conns abc
  usage_row nexus-tunnel "--max-streams" --max-streams abc
  usage_row nexus-token "--bits" keygen -t rs256 -o "$T/x" --bits 12
  usage_row nexus-bind "--batch" ingest --batch x
  usage_row nexus-mqtt2kafka "--receive-max" --receive-max x
  usage_row nexus-agent "--max-running" --max-running x
  # kind: JSON
  usage_row nexus-token "--claim role" issue -k "$F/s.secret" --claim role=admin
  # kind: one of a set
  usage_row nexus-relay "--log-level" --log-level loud
  usage_row nexus-token "unknown key type" keygen -t dsa -o "$T/x"
  usage_row nexus-mqtt2kafka "--mqtt-version" --mqtt-version 6
  report
}

@test "a file that cannot be read is a runtime failure: one line, the path once, exit 1" {
  local missing="$T/no-such-file"
  runtime_row nexus-hub "$missing" --listen 127.0.0.1:0 --cert "$F/c.pem" --key "$F/k.pem" \
    --secret-file "$missing" --relay-socket "$T/r.sock"
  runtime_row nexus-hub "$missing" --listen 127.0.0.1:0 --cert "$missing" --key "$F/k.pem" \
    --secret-file "$F/s.secret" --relay-socket "$T/r.sock"
  runtime_row nexus-tunnel "$missing" --hub wss://127.0.0.1:9/connect --secret-file "$missing" \
    --hostname a.test --to 127.0.0.1:9
  runtime_row nexus-token "$missing" verify -k "$missing" x.y.z
  runtime_row nexus-token "$missing" issue -k "$F/s.secret" --claims "$missing"
  runtime_row nexus-mqtt2kafka "$missing" --mqtt mqtt://127.0.0.1:9 --kafka 127.0.0.1:9 \
    --map 'a/#=t' --password-file "$missing" --spool "$T/spool"
  runtime_row nexus-bind "$missing" --db "$T/db" claim CODE --device d1 --pubkey "$missing"
  runtime_row nexus-agent "$missing" --mqtt mqtts://127.0.0.1:9 --device d1 --cafile "$missing" \
    --journal "$T/journal"
  runtime_row nexus-agent "$missing" send --mqtt mqtts://127.0.0.1:9 --device d1 \
    --cafile "$missing" reboot
  runtime_row nexus-vault "$missing" --db "$T/vault.db" --key-file "$missing" ls
  runtime_row nexus-vault "$missing" --db "$T/vault.db" --key-file "$F/s.secret" rotate-key \
    --new-key-file "$missing"
  report
}

@test "a --config file that cannot be read is a runtime failure naming it" {
  local missing="$T/no-such.conf" p
  for p in nexus-hub nexus-relay nexus-tunnel nexus-mqtt2kafka nexus-agent; do
    runtime_row "$p" "$missing" --config "$missing"
  done
  runtime_row nexus-token "$missing" issue --config "$missing"
  runtime_row nexus-bind "$missing" --config "$missing" ls
  runtime_row nexus-vault "$missing" --config "$missing" ls
  report
}

@test "a port in use is a runtime failure naming the address, exit 1" {
  local port
  port=$(free_port)
  python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
  NX_PIDS+=($!)
  wait_port "$port"
  runtime_row nexus-relay "127.0.0.1:$port" --listen "127.0.0.1:$port" --hub "$T/r.sock"
  runtime_row nexus-hub "127.0.0.1:$port" --listen "127.0.0.1:$port" --cert "$F/c.pem" \
    --key "$F/k.pem" --secret-file "$F/s.secret" --relay-socket "$T/r.sock"
  report
}

@test "every option is in the man page and the bash, zsh and fish completions" {
  local p o
  for p in $COMMANDS; do
    for o in $(long_options "$p"); do
      grep -q -- "--$o\b" "$NEXUS_SRC/man/$p.1.scd" || fail_row "$p: --$o not in man/$p.1.scd"
      grep -q -- "--$o\b" "$NEXUS_SRC/completions/bash/$p" || fail_row "$p: --$o not in bash completion"
      grep -q -- "--$o\b" "$NEXUS_SRC/completions/zsh/_$p" || fail_row "$p: --$o not in zsh completion"
      grep -Eq -- "-l $o( |$)" "$NEXUS_SRC/completions/fish/$p.fish" ||
        fail_row "$p: --$o not in fish completion"
    done
  done
  report
}

@test "man pages: EXIT STATUS says 0, 1 and 2, and environment names render" {
  local p page
  for p in $COMMANDS; do
    page="$NEXUS_SRC/man/$p.1"
    [ -f "$page" ] || { fail_row "$p: no man page built"; continue; }
    run man -l -P cat "$page"
    printf '%s\n' "$output" | grep -q "EXIT STATUS" || fail_row "$p: no EXIT STATUS section"
    local sec
    sec=$(printf '%s\n' "$output" | sed -n '/^EXIT STATUS/,/^[A-Z]/p')
    for code in 0 1 2; do
      printf '%s\n' "$sec" | grep -Eq "^ +$code( |$)" || fail_row "$p: EXIT STATUS does not list $code"
    done
    if printf '%s\n' "$output" | grep -q 'NEXUS_[A-Z0-9]*__\|_OPTION_\b\|_NAME_\b'; then
      fail_row "$p: a mangled NEXUS_..._OPTION name"
    fi
  done
  report
}
