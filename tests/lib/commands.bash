# The commands, and the long options each one has (tests/cli-conventions.bats,
# tests/completions.bats).
COMMANDS="nexus-hub nexus-relay nexus-tunnel nexus-token nexus-bind nexus-mqtt2kafka nexus-agent nexus-vault"

# The long options a command has, from its option tables (every entry, also the second of
# two written on one line).
long_options() {
  grep -o '{"[a-z0-9-]*", *\(required\|no\|optional\)_argument' "$NEXUS_SRC/cmd/$1.c" |
    sed 's/{"\([a-z0-9-]*\)".*/\1/' | sort -u
}
