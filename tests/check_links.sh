#!/bin/bash
# The domain links no kernel or HTTP library: `$1` is built from the
# resolver layer alone, and must not need libbpf, libnl, cpp-httplib or Graphviz.
# `$2` (the daemon) must need all three, or this check proves nothing.
set -u
domain=${1:?usage: check_links.sh RESOLVER_BINARY DAEMON_BINARY}
daemon=${2:?}
needed() { readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'; }
status=0
for lib in libbpf libnl-3 libcpp-httplib libgvc; do
  if needed "$domain" | grep -q "^$lib\.so"; then
    echo "$domain needs $lib: the resolver layer must not link it"
    status=1
  fi
  if ! needed "$daemon" | grep -q "^$lib\.so"; then
    echo "$daemon does not need $lib: this check would not notice it"
    status=1
  fi
done
[ $status -eq 0 ] && echo "the resolver layer links no kernel, HTTP or Graphviz library"
exit $status
