// nsfs bind mounts of network namespaces (ip netns, docker, CNI), from mountinfo.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resolver/host.h"
#include "util/result.h"

namespace netnsd {

// Parses /proc/PID/mountinfo text and keeps the nsfs mounts whose root is a
// network namespace ("net:[4026532177]"). Malformed lines are skipped.
std::vector<NetnsMount> parse_netns_mounts(std::string_view mountinfo);

Result<std::vector<NetnsMount>> read_netns_mounts(const std::string& path = "/proc/self/mountinfo");

// A mounted cgroup hierarchy: cgroup v2, or one v1 hierarchy and its
// controllers ("pids", "memory", "name=systemd", ...).
struct CgroupMount {
  bool v2 = false;
  std::vector<std::string> controllers;  // v1 only, from the super options
  std::string root;                      // the hierarchy's directory mounted there ("/" for all of it)
  std::string mount_point;
};

// The cgroup and cgroup2 mounts of mountinfo text.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

}  // namespace netnsd
