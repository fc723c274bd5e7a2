#!/usr/bin/env bats
# The bash, zsh and fish completions, run by the shells themselves: every long option a
# command has is offered (after one of the verbs the completion itself offers, or before
# a verb where the command runs without one), options with fixed values complete to them,
# and nothing the shell runs fails.
load lib/common
load lib/commands

FAILS=""
fail_row() { FAILS="$FAILS"$'\n'"  $*"; }
report() { [ -z "$FAILS" ] || { echo "failed rows:$FAILS" >&2; return 1; }; }

# bash_complete CMD WORD...: what bash completion offers for the last WORD, one a line.
bash_complete() {
  local p=$1
  shift
  bash --norc --noprofile -c '
    source "$1" || exit 3
    shift
    fn=$(complete -p "$1" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
    [ -n "$fn" ] || { echo "no completion function for $1" >&2; exit 3; }
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$NEXUS_SRC/completions/bash/$p" "$p" "$@"
}

# fish_complete LINE: what fish offers at the end of LINE, one candidate a line.
fish_complete() {
  local p=${1%% *}
  fish --no-config -c "source '$NEXUS_SRC/completions/fish/$p.fish'; complete -C '$1'" |
    cut -f1
}

# zsh_complete LINE: what zsh's completion system lists for LINE<TAB>, candidates only.
zsh_complete() {
  "$NEXUS_SRC/tests/helpers/zsh-complete" "$NEXUS_SRC/completions/zsh" "$1" > "$T/zsh.out" ||
    return 1
  # an error of a completion function is a line like "_arguments:comparguments:325: ..."
  if grep -E '^[_a-z-]+:([a-z_-]+:)?[0-9]+: ' "$T/zsh.out" >&2; then return 1; fi
  sed 's/ -- .*//' "$T/zsh.out" | tr -s ' ' '\n' | grep -v "^$" || true
}

# Commands that do nothing without a verb: their options must be offered after one (getopt
# takes them anywhere, and that is where a user types them).
NEEDS_VERB="nexus-token nexus-bind nexus-vault"

# offered SHELL CMD: every candidate the shell's completion offers for CMD after each verb
# it offers, and before a verb unless CMD needs one (there only --help and --version count).
offered() {
  local sh=$1 p=$2 v
  case $sh in
    bash) bash_complete "$p" "" ; bash_complete "$p" "--" ;;
    *) "${sh}_complete" "$p " ; "${sh}_complete" "$p --" ;;
  esac > "$T/ctx0" || return 1
  case " $NEEDS_VERB " in
    *" $p "*) grep -x -e --help -e --version "$T/ctx0" ;;
    *) cat "$T/ctx0" ;;
  esac
  for v in $(grep -v '^-' "$T/ctx0" | sort -u); do
    case $sh in
      bash) bash_complete "$p" "$v" "--" ;;
      *) "${sh}_complete" "$p $v --" ;;
    esac || return 1
  done
}

check_shell() {
  local sh=$1 p o
  for p in $COMMANDS; do
    if ! offered "$sh" "$p" > "$T/$sh-$p"; then
      fail_row "$sh: completing $p failed: $(tr '\n' ' ' < "$T/zsh.out" 2>/dev/null)"
      continue
    fi
    for o in $(long_options "$p"); do
      grep -qx -- "--$o" "$T/$sh-$p" || fail_row "$sh: $p: --$o is not offered"
    done
  done
}

@test "bash offers every long option of every command, and fixed values" {
  check_shell bash
  [ "$(bash_complete nexus-tunnel --proxy-protocol "" | sort | tr '\n' ' ')" = "none v1 v2 " ] ||
    fail_row "bash: nexus-tunnel --proxy-protocol values"
  [ "$(bash_complete nexus-token keygen --type "" | sort | tr '\n' ' ')" = \
    "es256 hs256 hs384 hs512 rs256 " ] || fail_row "bash: nexus-token keygen --type values"
  [ "$(bash_complete nexus-tunnel --conn)" = "--connections" ] ||
    fail_row "bash: --conn does not complete to --connections"
  report
}

@test "zsh offers every long option of every command, and fixed values" {
  command -v zsh >/dev/null || skip "zsh not installed"
  check_shell zsh
  [ "$(zsh_complete 'nexus-tunnel --proxy-protocol ' | sort | tr '\n' ' ')" = "none v1 v2 " ] ||
    fail_row "zsh: nexus-tunnel --proxy-protocol values: $(cat "$T/zsh.out")"
  [ "$(zsh_complete 'nexus-token keygen --type ' | sort | tr '\n' ' ')" = \
    "es256 hs256 hs384 hs512 rs256 " ] || fail_row "zsh: nexus-token keygen --type values"
  report
}

@test "fish offers every long option of every command, and fixed values" {
  command -v fish >/dev/null || skip "fish not installed"
  for p in $COMMANDS; do
    fish --no-config -n "$NEXUS_SRC/completions/fish/$p.fish" || fail_row "fish: $p.fish does not parse"
  done
  check_shell fish
  [ "$(fish_complete 'nexus-tunnel --proxy-protocol ' | sort | tr '\n' ' ')" = "none v1 v2 " ] ||
    fail_row "fish: nexus-tunnel --proxy-protocol values"
  [ "$(fish_complete 'nexus-token keygen --type ' | sort | tr '\n' ' ')" = \
    "es256 hs256 hs384 hs512 rs256 " ] || fail_row "fish: nexus-token keygen --type values"
  [ "$(fish_complete 'nexus-tunnel --conn')" = "--connections" ] ||
    fail_row "fish: --conn does not complete to --connections"
  report
}
