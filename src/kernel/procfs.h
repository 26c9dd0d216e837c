// Tasks and their network namespaces, from /proc.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "resolver/model.h"

namespace netnsd {

struct TaskNetns {
  std::uint32_t pids = 0;  // processes with at least one task in the namespace
  // One task's namespace file, /proc/PID/task/TID/ns/net, to open a handle from.
  std::string task_path;
};
using TaskScan = std::unordered_map<NetnsId, TaskNetns>;

// Walks every task of every process under `proc_root`. Tasks that exit during
// the walk are skipped; the scan never fails as a whole.
TaskScan scan_tasks(const std::string& proc_root = "/proc");

}  // namespace netnsd
