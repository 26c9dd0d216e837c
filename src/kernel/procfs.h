// Tasks and their network namespaces, from /proc.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "resolver/host.h"
#include "resolver/sockets.h"
#include "util/result.h"

namespace netnsd {

// Walks every task of every process under `proc_root`. Tasks that exit during
// the walk, or that we may not inspect, are skipped; a failure of our own
// (no /proc, EMFILE, ...) fails the whole scan, since a partial one would
// make live namespaces look empty.
Result<TaskScan> scan_tasks(const std::string& proc_root = "/proc");

// Which processes hold the sockets `inodes` in their descriptors, whatever
// namespace the processes are in: every process's /proc/PID/fd, read until
// `deadline` (then `complete` is false). Processes that exit during the
// walk, or that we may not inspect, are skipped.
SocketOwners find_socket_owners(const std::unordered_set<std::uint64_t>& inodes,
                                std::chrono::steady_clock::time_point deadline, const std::string& proc_root = "/proc");

}  // namespace netnsd
