#!/bin/bash
# The man pages and the bash completion against the binaries they describe:
# every option and command in --help is documented and completed, nothing
# documented is missing from --help, the pages format without warnings, and
# the completion completes.
#   check_docs.sh NETNSD NETNSCTL SOURCE_DIR
set -u
netnsd=${1:?usage: check_docs.sh NETNSD NETNSCTL SOURCE_DIR}
netnsctl=${2:?}
src=${3:?}
man8=$src/deploy/man/netnsd.8
man1=$src/deploy/man/netnsctl.1
completion=$src/deploy/completion/netnsctl.bash
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }

# roff writes "-" as "\-"; this reads a page the way a reader sees its options.
options_in_page() { sed 's/\\-/-/g' "$1" | grep -oE -- '--[a-z][a-z-]*' | sort -u; }

help_flags=$("$netnsd" --help | grep -oE -- '^  --[a-z][a-z-]*' | tr -d ' ' | sort -u)
page_flags=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man8" | sed 's/\\-/-/g' | grep -E '^\.(B|BI) --' |
  grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$help_flags" ] || fail "no options in netnsd --help"
for f in $help_flags; do grep -qx -- "$f" <<<"$page_flags" || fail "netnsd(8) does not describe $f"; done
for f in $page_flags; do
  grep -qx -- "$f" <<<"$help_flags" || [ "$f" = --help ] || [ "$f" = --version ] ||
    fail "netnsd(8) describes $f, which netnsd --help does not have"
done
ok "netnsd(8) describes the $(wc -w <<<"$help_flags") options of netnsd --help"

[ "$("$netnsd" --version)" = "netnsd $(sed -n 's/^\.TH [A-Z]* [0-9] "[^"]*" "netnsd \([^"]*\)".*/\1/p' "$man8")" ] &&
  ok "netnsd(8) is the version of netnsd" || fail "netnsd(8)'s version is not $("$netnsd" --version)"
[ "$("$netnsctl" --version)" = "netnsctl $(sed -n 's/^\.TH [A-Z]* [0-9] "[^"]*" "netnsd \([^"]*\)".*/\1/p' "$man1")" ] &&
  ok "netnsctl(1) is the version of netnsctl" || fail "netnsctl(1)'s version is not $("$netnsctl" --version)"

commands=$("$netnsctl" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+' | tr -d ' ')
dump_options=$("$netnsctl" --help | grep -E '^  dump ' | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$commands" ] && [ -n "$dump_options" ] || fail "no commands in netnsctl --help"
ctl_page=$(options_in_page "$man1")
for c in $commands; do
  grep -qE "^\.(B|BI) \"?$c\b" "$man1" || fail "netnsctl(1) does not describe '$c'"
  grep -qw -- "$c" "$completion" || fail "the completion does not offer '$c'"
done
for o in $dump_options --socket --help --version; do
  grep -qx -- "$o" <<<"$ctl_page" || fail "netnsctl(1) does not describe $o"
  grep -q -- "$o" "$completion" || fail "the completion does not offer $o"
done
ok "netnsctl(1) and the completion cover: $(echo $commands) $(echo $dump_options)"

for page in "$man8" "$man1"; do
  warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
  [ -z "$warnings" ] && ok "$(basename "$page") formats without warnings" || fail "$(basename "$page"): $warnings"
done

# The completion, as bash runs it on <TAB>: COMP_WORDS in, COMPREPLY out.
complete_line() {
  PATH=$(dirname "$netnsctl"):$PATH NETNSD_SOCKET=/nonexistent bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _netnsctl; echo "${COMPREPLY[*]}"' complete "$completion" "$@"
}
expect() {
  local want=$1; shift
  local got
  got=$(complete_line "$@")
  [ "$got" = "$want" ] && ok "$* <TAB> -> '$got'" || fail "$* <TAB> gave '$got', not '$want'"
}
expect "dump diff" netnsctl d
expect "dump" netnsctl du
expect "now" netnsctl diff -1h n
expect "--json" netnsctl diff -1h --
expect "health" netnsctl --socket /run/x.sock he
expect "history" netnsctl hi
expect "--at" netnsctl whois eth0 --
expect "--format" netnsctl dump --stream --f
expect "json dot svg png" netnsctl dump --stream --format ""
expect "datadog" netnsctl dump --schema d
expect "--snapshot-interfaces --stream --schema" netnsctl dump --s
expect "" netnsctl ls ""
exit $status
