// Tasks and their network namespaces, from /proc.
#pragma once

#include <string>

#include "resolver/host.h"
#include "util/result.h"

namespace netnsd {

// Walks every task of every process under `proc_root`. Tasks that exit during
// the walk, or that we may not inspect, are skipped; a failure of our own
// (no /proc, EMFILE, ...) fails the whole scan, since a partial one would
// make live namespaces look empty.
Result<TaskScan> scan_tasks(const std::string& proc_root = "/proc");

}  // namespace netnsd
