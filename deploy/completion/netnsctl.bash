# bash completion for netnsctl(1). Namespace names and inodes come from the
# running netnsd (netnsctl ls), when it answers.

_netnsctl_socket() {
  local i
  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
    case ${COMP_WORDS[i]} in
      --socket) printf '%s' "${COMP_WORDS[i + 1]}"; return ;;
      --socket=*) printf '%s' "${COMP_WORDS[i]#--socket=}"; return ;;
    esac
  done
}

# The inodes `netnsctl ls` lists and, with an argument, the names too.
_netnsctl_namespaces() {
  local socket args=()
  socket=$(_netnsctl_socket)
  [ -n "$socket" ] && args=(--socket "$socket")
  netnsctl "${args[@]}" ls 2>/dev/null | awk -v names="$1" '
    NR == 1 && $1 !~ /^[0-9]+$/ { next }
    { print $1 }
    names && NF >= 5 && $5 !~ /^\(/ { n = split($5, list, ","); for (i = 1; i <= n; i++) print list[i] }'
}

_netnsctl() {
  local cur prev command="" i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --socket) ((i++)) ;;
      -*) ;;
      *) command=${COMP_WORDS[i]}; break ;;
    esac
  done

  if [ "$prev" = --socket ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  case $command in
    "")
      COMPREPLY=($(compgen -W "dump health ls get sockets conntrack firewall whois history diff watch --socket --help --version" -- "$cur")) ;;
    dump)
      case $prev in
        --format) COMPREPLY=($(compgen -W "json dot svg png" -- "$cur")) ;;
        --schema) COMPREPLY=($(compgen -W "netnsd datadog" -- "$cur")) ;;
        --netns) COMPREPLY=($(compgen -W "$(_netnsctl_namespaces)" -- "$cur")) ;;
        --at) ;;
        --include) COMPREPLY=($(compgen -W "routes neighbours sockets conntrack firewall" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "--snapshot-interfaces --at --stream --format --schema --netns --include" -- "$cur")) ;;
      esac ;;
    diff)
      # A TIME, "now" or a dump file.
      COMPREPLY=($(compgen -W "now --json" -- "$cur") $(compgen -f -X '!*.json' -- "$cur")) ;;
    get)
      [ "$prev" = get ] && COMPREPLY=($(compgen -W "$(_netnsctl_namespaces names)" -- "$cur")) ;;
    sockets | conntrack | firewall)
      if [ "$prev" = "$command" ]; then
        COMPREPLY=($(compgen -W "$(_netnsctl_namespaces names)" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "--json" -- "$cur"))
      fi ;;
    watch)
      case $prev in
        --netns) COMPREPLY=($(compgen -W "$(_netnsctl_namespaces)" -- "$cur")) ;;
        --type)
          COMPREPLY=($(compgen -W "netns device address netns_added netns_changed netns_removed device_added
            device_changed device_removed address_added address_changed address_removed route rule neighbour
            route_added route_changed route_removed rule_added rule_removed neighbour_added neighbour_changed
            neighbour_removed" -- "$cur")) ;;
        --since) ;;
        *) COMPREPLY=($(compgen -W "--json --netns --type --since" -- "$cur")) ;;
      esac ;;
    whois)
      # Interface names on this host: those of its own namespace.
      case $prev in
        whois) COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")) ;;
        --at) ;;
        *) COMPREPLY=($(compgen -W "--at" -- "$cur")) ;;
      esac ;;
    history)
      case $prev in
        --netns) COMPREPLY=($(compgen -W "$(_netnsctl_namespaces)" -- "$cur")) ;;
        --device) COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")) ;;
        --address|--mac|--container|--from|--to) ;;
        history) COMPREPLY=($(compgen -W "export --netns --device --address --mac --container --from --to --json" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "--netns --device --address --mac --container --from --to --json" -- "$cur")) ;;
      esac ;;
  esac
}

complete -F _netnsctl netnsctl
