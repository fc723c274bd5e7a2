#!/usr/bin/env bats
# lib/ is layered: core at the bottom, token and wire above it, one folder per daemon or tool
# on top. A folder includes only itself and folders below it; no file sits loose in lib/.
load lib/common

rank() {
  case "$1" in
    core) echo 0 ;;
    token|wire|mqtt) echo 10 ;;
    oauth) echo 15 ;;   # an OAuth/OIDC client: verifies with token, parses with wire
    acme) echo 17 ;;    # an ACME client: signs with token, talks HTTP through oauth/http
    *) echo 20 ;;
  esac
}

@test "every lib module lives in a subsystem folder" {
  run find "$NEXUS_SRC/lib" -maxdepth 1 -type f -name '*.[ch]'
  assert_success
  assert_output ''
}

@test "a lib folder includes only itself and folders below it" {
  local bad="" f dir inc to
  for f in "$NEXUS_SRC"/lib/*/*.[ch]; do
    dir=$(basename "$(dirname "$f")")
    while IFS= read -r inc; do
      to=${inc%%/*}
      [ "$to" = "$inc" ] && { bad="$bad ${f#$NEXUS_SRC/}:unqualified:$inc"; continue; }
      [ "$to" = "$dir" ] && continue
      [ "$(rank "$to")" -lt "$(rank "$dir")" ] || bad="$bad ${f#$NEXUS_SRC/}:$inc"
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
  echo "offending includes:$bad"
  [ -z "$bad" ]
}

@test "internal headers are only included inside their own folder" {
  local bad="" f inc
  for f in "$NEXUS_SRC"/lib/*/*.[ch] "$NEXUS_SRC"/cmd/*.c; do
    while IFS= read -r inc; do
      case "$f" in "$NEXUS_SRC/lib/${inc%%/*}/"*) ;; *) bad="$bad ${f#$NEXUS_SRC/}:$inc" ;; esac
    done < <(sed -n 's/^#include "\([^"]*_int\.h\)".*/\1/p' "$f")
  done
  echo "offending includes:$bad"
  [ -z "$bad" ]
}
