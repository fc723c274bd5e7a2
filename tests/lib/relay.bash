# Helpers for the nexus-relay suites:  load lib/common; load lib/relay
# make_certs: a CA and server certificates for a.test, b.test, *.w.test in $T/pki.
# tls_backend NAME PORT: openssl s_server -WWW serving $T/www-NAME (file "who" says NAME).
# http_backend NAME PORT: python3 http.server serving $T/www-NAME.
# relay ARGS...: start nexus-relay on $RP (a free port) with ARGS, wait until it listens.

RELAY_PY="$BATS_TEST_DIRNAME/lib/rawclient.py"

make_certs() {
  local d=$T/pki n
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  for n in a.test b.test x.w.test; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
      -addext "subjectAltName=DNS:$n" -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -copy_extensions copy -out "$d/$n.crt" 2>/dev/null
  done
}

tls_backend() {
  local name=$1 port=$2
  mkdir -p "$T/www-$name"
  echo "backend $name" > "$T/www-$name/who"
  bg "tls-$name" sh -c 'cd "$1" && shift && exec "$@"' _ "$T/www-$name" \
    openssl s_server -WWW -accept "127.0.0.1:$port" -cert "$T/pki/$name.crt" \
    -key "$T/pki/$name.key"
  wait_port "$port"
}

http_backend() {
  local name=$1 port=$2
  mkdir -p "$T/www-$name"
  echo "backend $name" > "$T/www-$name/who"
  bg "http-$name" python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T/www-$name"
  wait_port "$port"
}

relay() {
  bg_listener relay "msg=listening addr=127.0.0.1:@PORT@( |$)" \
    nexus-relay --listen "127.0.0.1:@PORT@" "$@" || return 1
  RP=$BG_PORT RELAY_PID=$BG_PID
}

# rawclient ARGS...: python3 raw socket client (see tests/lib/rawclient.py --help).
rawclient() { python3 "$RELAY_PY" "$@"; }

# wait_log FILE PATTERN [COUNT]: wait until PATTERN appears (COUNT times) in FILE (up to 10 s).
# Log lines are written when a connection ends, which can be just after the client returns.
wait_log() { # wait_log FILE REGEX [COUNT [SECONDS]]
  local n=${3:-1}
  for _ in $(seq $(( ${4:-10} * 20 ))); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$n" ] && return 0
    sleep 0.05
  done
  echo "'$2' not $n times in $1:" >&2; cat "$1" >&2; return 1
}
