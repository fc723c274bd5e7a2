# The OpenID provider of the nexus-token login suites: npm oidc-provider (FACTS §9),
# installed once into a cache directory outside the tree, started per test on a free port.
#   oidc_install   (setup_file) install or reuse it; skips the suite if npm cannot get it
#   start_oidc     start it; sets ISSUER; extra environment: OIDC_IDTOKEN_TTL, OIDC_SLOW_DOWN
#   browse URL     play the browser: follow the authorization URL to the loopback redirect
# The lock file pins every package; the install directory is named after its hash, so a
# changed lock gets a fresh install beside the old one.
OIDC_FIXTURE="$NEXUS_SRC/tests/fixtures/oidc"
OIDC_DIR=${NEXUS_OIDC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nexus-tests/oidc-$(sha256sum "$OIDC_FIXTURE/package-lock.json" | cut -c1-12)}

# Suites run in parallel: one installs (under a lock, into a scratch directory moved into
# place when complete) while the others wait, so none ever sees a half-made node_modules.
oidc_install() {
  command -v node >/dev/null || { OIDC_SKIP="node not installed"; export OIDC_SKIP; return 0; }
  mkdir -p "$(dirname "$OIDC_DIR")"
  if ! (
    flock -w 400 9 || exit 1
    [ -f "$OIDC_DIR/.complete" ] && exit 0
    rm -rf "$OIDC_DIR.new" && mkdir -p "$OIDC_DIR.new" &&
      cp "$OIDC_FIXTURE/package.json" "$OIDC_FIXTURE/package-lock.json" "$OIDC_DIR.new/" &&
      (cd "$OIDC_DIR.new" && timeout 300 npm ci --no-audit --no-fund) > "$OIDC_DIR.new/install.log" 2>&1 &&
      touch "$OIDC_DIR.new/.complete" && rm -rf "$OIDC_DIR" && mv "$OIDC_DIR.new" "$OIDC_DIR"
  ) 9> "$OIDC_DIR.lock"; then
    OIDC_SKIP="npm could not install oidc-provider (registry unreachable?): see $OIDC_DIR.new/install.log"
  fi
  export OIDC_SKIP
}

start_oidc() {
  [ -z "${OIDC_SKIP:-}" ] || skip "$OIDC_SKIP"
  cp "$NEXUS_SRC/tests/lib/oidc-provider.mjs" "$OIDC_DIR/"
  OIDC_PORT=$(free_port)
  ISSUER="http://127.0.0.1:$OIDC_PORT"
  bg oidc node "$OIDC_DIR/oidc-provider.mjs" "$OIDC_PORT"
  for i in $(seq 300); do grep -q '^ready' "$T/oidc.log" && break; sleep 0.1; done
  grep -q '^ready' "$T/oidc.log" || { cat "$T/oidc.log" >&2; return 1; }
}

# login_bg LOGNAME [nexus-token login options]: start a login in the background; its stdout
# in $T/LOGNAME.out, its stderr (the URL or user code) in $T/LOGNAME.err, pid LOGIN_PID.
login_bg() {
  local name=$1; shift
  nexus-token login --issuer "$ISSUER" --timeout 60s "$@" > "$T/$name.out" 2> "$T/$name.err" &
  LOGIN_PID=$!
  NX_PIDS+=("$LOGIN_PID")
}

# wait_line FILE REGEX: wait until FILE has a line matching REGEX, print the first.
wait_line() {
  local i
  for i in $(seq 300); do
    grep -m1 -E "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no line matching $2 in $1:" >&2; cat "$1" >&2
  return 1
}

# auth_url LOGNAME: the authorization URL a login printed.
auth_url() { wait_line "$T/$1.err" "^$ISSUER/auth\\?"; }

# browse URL: the provider's pages up to (not into) the loopback redirect; prints the
# redirect URL (to http://127.0.0.1:PORT/callback?code=...).
browse() {
  local url=$1 jar="$T/cookies" i loc
  for i in $(seq 10); do
    loc=$(curl -sS --max-time 30 -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' "$url")
    [ -n "$loc" ] || { echo "no redirect from $url" >&2; return 1; }
    case "$loc" in http://127.0.0.1:"$OIDC_PORT"/*) url=$loc ;; /*) url="$ISSUER$loc" ;; *) echo "$loc"; return 0 ;; esac
  done
  return 1
}

# approve_device URL: as the user, approve the device login at verification_uri_complete.
approve_device() {
  local jar="$T/dcookies" page xsrf code
  page=$(curl -sS --max-time 30 -b "$jar" -c "$jar" "$1")
  xsrf=$(echo "$page" | sed -n 's/.*name="xsrf" value="\([^"]*\)".*/\1/p' | head -1)
  code=$(echo "$page" | sed -n 's/.*name="user_code" value="\([^"]*\)".*/\1/p' | head -1)
  [ -n "$xsrf" ] && [ -n "$code" ] || { echo "no device form: $page" >&2; return 1; }
  curl -sS --max-time 30 -L -b "$jar" -c "$jar" -o "$T/device-done.html" \
    --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$code" -d confirm=yes "$ISSUER/device"
}
