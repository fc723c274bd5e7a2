# Shared bats helpers. In a suite:  load lib/common
# Provides: bats-support/assert/file, $T (a private temp dir per test), free_port,
# wait_port, bg (start a process that teardown kills), and the binaries on PATH.
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

: "${NEXUS_SRC:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${NEXUS_BINDIR:=$NEXUS_SRC/bin}"
: "${NEXUS_TESTBIN:=$NEXUS_BINDIR/tests}"
export PATH="$NEXUS_BINDIR:$PATH"

setup() {
  T="$BATS_TEST_TMPDIR"
  NX_PIDS=()
  [ "$(type -t suite_setup)" = function ] && suite_setup
  return 0
}

teardown() {
  # a failed test shows the end of every log its processes wrote (run-tests keeps the last
  # 40 lines of a failure, so keep these short)
  if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
    local f
    for f in "$T"/*.log; do
      [ -f "$f" ] || continue
      echo "# --- ${f##*/}:"; tail -6 "$f" | cut -c1-240
    done
  fi
  [ "$(type -t suite_teardown)" = function ] && suite_teardown
  local p
  for p in "${NX_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${NX_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  return 0
}

# free_port: print a port on 127.0.0.1 that is free now for TCP and for UDP alike (suites
# run in parallel, and a UDP client elsewhere may hold an ephemeral port that is free for TCP).
# own_listener PID LOG REGEX: PID (just started) logs REGEX, its own 'listening' line, while
# alive. A free port can be taken by another suite between free_port and the bind, and
# wait_port then sees that suite's listener; this tells the two apart.
own_listener() {
  for _ in $(seq 200); do
    grep -qE -- "$3" "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# bg_listener NAME PATTERN CMD...: bg NAME CMD... on a free port, then wait for its own
# listening line PATTERN (own_listener) and the port; in CMD and PATTERN @PORT@ stands for
# the port. When another suite took the port first, again on a new one, three times in all;
# with LISTEN_PORT set, that port and one try. Sets BG_PORT and BG_PID; on failure shows the
# end of NAME.log.
bg_listener() {
  local name=$1 pattern=$2 try
  shift 2
  for try in 1 2 3; do
    BG_PORT=${LISTEN_PORT:-$(free_port)}
    bg "$name" "${@//@PORT@/$BG_PORT}"
    own_listener "$BG_PID" "$T/$name.log" "${pattern//@PORT@/$BG_PORT}" &&
      wait_port "$BG_PORT" && return 0
    kill "$BG_PID" 2>/dev/null || true # (it has mostly exited already)
    wait "$BG_PID" 2>/dev/null || true
    [ -n "${LISTEN_PORT:-}" ] && break
  done
  tail -5 "$T/$name.log" >&2
  return 1
}

# free_port: a port free for TCP and UDP on 127.0.0.1, below the kernel's ephemeral range
# (ip_local_port_range): a port from that range can be taken by any test's client socket
# between this check and the bind of the server it is for.
free_port() {
  python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    port = random.randrange(10000, lo) if lo > 12000 else 0
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port); break'
}

# rate_limited FILE EVENTS SECS [PER_SECOND]: FILE holds the log lines for EVENTS events
# that came over about SECS seconds (and one more after a pause, which carries the count
# of those folded before it): their times= add up to EVENTS and there are at most
# PER_SECOND (10) a second of them.
rate_limited() {
  local file=$1 events=$2 secs=$3 per=${4:-10} lines sum
  lines=$(wc -l < "$file")
  sum=$(grep -o 'times=[0-9]*' "$file" | awk -F= '{s += $2} END {print s + 0}')
  echo "# $events events in about ${secs}s: $lines lines logged, times= summing to $sum" >&3
  [ "$sum" = "$events" ] && [ "$lines" -le $(( per * (secs + 1) + 1 )) ]
}

# wait_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
  local port=$1 secs=${2:-10} i
  for i in $(seq $((secs * 20))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on 127.0.0.1:$port after ${secs}s" >&2
  return 1
}

# wait_file PATH [SECONDS]: wait until PATH exists (a unix socket, a pid file, ...).
wait_file() {
  local f=$1 secs=${2:-10} i
  for i in $(seq $((secs * 20))); do [ -e "$f" ] && return 0; sleep 0.05; done
  echo "$f did not appear after ${secs}s" >&2
  return 1
}

# bg LOGNAME CMD...: run CMD in the background, output to $T/LOGNAME.log; teardown kills it.
# The pid is in $BG_PID.
bg() {
  local name=$1; shift
  "$@" > "$T/$name.log" 2>&1 &
  BG_PID=$!
  NX_PIDS+=("$BG_PID")
}
