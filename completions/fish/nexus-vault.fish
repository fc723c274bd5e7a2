# fish completion for nexus-vault
set -l verbs put get ls rm header exec rotate-key
complete -c nexus-vault -f
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a put -d 'store the credential JSON on stdin'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a get -d 'print a secret, or the credential as JSON'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a ls -d 'names, types and expiry'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a rm -d 'delete a credential'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a header -d 'print the HTTP header line'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a exec -d 'run a command with the credential in its environment'
complete -c nexus-vault -n "not __fish_seen_subcommand_from $verbs" -a rotate-key -d 're-encrypt everything under a new key version'
complete -c nexus-vault -n "__fish_seen_subcommand_from get rm header exec" -a '(nexus-vault ls 2>/dev/null | cut -f1)' -d 'credential'
complete -c nexus-vault -l db -r -F -d 'SQLite file'
complete -c nexus-vault -s k -l key-file -r -F -d 'master key file'
complete -c nexus-vault -l config -r -F -d 'options file'
complete -c nexus-vault -s h -l help -d 'usage'
complete -c nexus-vault -s V -l version -d 'version'
complete -c nexus-vault -n "__fish_seen_subcommand_from get ls" -l json -d 'JSON output'
complete -c nexus-vault -n "__fish_seen_subcommand_from rotate-key" -l new-key-file -r -F -d 'the new master key'
