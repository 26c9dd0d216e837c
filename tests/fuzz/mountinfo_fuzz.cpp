// Fuzzes the mountinfo parser: mount points are chosen by whoever mounts
// (and their escapes decoded by netnsd), so the text is untrusted.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernel/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const netnsd::NetnsMount& m : netnsd::parse_netns_mounts(text)) {
    if (m.netns == 0) std::abort();
    (void)netnsd::mount_name(m.mount_point);
  }
  return 0;
}
