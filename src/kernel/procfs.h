// Tasks and their network namespaces, from /proc.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "resolver/model.h"
#include "util/result.h"

namespace netnsd {

struct TaskNetns {
  std::uint32_t pids = 0;  // processes with at least one task in the namespace
  // One task's namespace file, /proc/PID/task/TID/ns/net, to open a handle from.
  std::string task_path;
};
using TaskScan = std::unordered_map<NetnsId, TaskNetns>;

// Walks every task of every process under `proc_root`. Tasks that exit during
// the walk, or that we may not inspect, are skipped; a failure of our own
// (no /proc, EMFILE, ...) fails the whole scan, since a partial one would
// make live namespaces look empty.
Result<TaskScan> scan_tasks(const std::string& proc_root = "/proc");

}  // namespace netnsd
