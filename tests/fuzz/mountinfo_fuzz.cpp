// Fuzzes the mountinfo parsers (nsfs and cgroup mounts) and the cgroup path
// parser: mount points and cgroup paths are chosen by whoever mounts or
// creates them (a user with a delegated cgroup subtree), so the text is
// untrusted.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernel/mountinfo.h"
#include "resolver/containers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const netnsd::NetnsMount& m : netnsd::parse_netns_mounts(text)) {
    if (m.netns == 0) std::abort();
    (void)netnsd::mount_name(m.mount_point);
  }
  for (const netnsd::CgroupMount& m : netnsd::parse_cgroup_mounts(text)) {
    if (m.v2 && !m.controllers.empty()) std::abort();
  }
  // The same bytes as /proc/PID/cgroup: whatever is found must be an id.
  if (auto match = netnsd::container_of_cgroup_file(text)) {
    if (match->container.id.size() != 64 || match->path.empty()) std::abort();
    if (match->path.find(match->container.id) == std::string::npos) std::abort();
  }
  return 0;
}
