// nsfs bind mounts of network namespaces (ip netns, docker, CNI), from mountinfo.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resolver/model.h"
#include "util/result.h"

namespace netnsd {

struct NetnsMount {
  NetnsId netns = 0;
  std::string mount_point;  // unescaped absolute path
};

// Parses /proc/PID/mountinfo text and keeps the nsfs mounts whose root is a
// network namespace ("net:[4026532177]"). Malformed lines are skipped.
std::vector<NetnsMount> parse_netns_mounts(std::string_view mountinfo);

Result<std::vector<NetnsMount>> read_netns_mounts(const std::string& path = "/proc/self/mountinfo");

// The name a bind mount gives its namespace: the mount point's last component
// ("/run/netns/blue" -> "blue").
std::string mount_name(std::string_view mount_point);

}  // namespace netnsd
