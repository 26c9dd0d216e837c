// Graphviz DOT encoding of the dump.
//
// Node IDs are stable across dumps: ns_<inode> for a namespace,
// dev_<inode>_<ifindex> for a cached device, live_<inode>_<ifindex> for a
// device seen live but missing from the cache. Edges: namespace -> device,
// device -> master (dotted), and one undirected edge per veth pair whose two
// ends are both in the graph. Styles: lonely namespaces dashed and grey,
// stale devices amber, devices missing from the cache red and dashed.
#pragma once

#include <string>

#include "dump/document.h"

namespace netnsd {

std::string dump_to_dot(const DumpDocument& doc);

// Quotes `text` as a DOT string: backslashes and quotes escaped, control
// characters shown as \xNN, invalid UTF-8 replaced.
std::string dot_quote(std::string_view text);

}  // namespace netnsd
