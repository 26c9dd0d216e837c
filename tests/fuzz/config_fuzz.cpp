// Fuzzes the config file parser (/etc/netnsd/netnsd.conf, or any --config).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  netnsd::ServiceConfig config;
  netnsd::Status st =
      netnsd::apply_config_text(std::string_view(reinterpret_cast<const char*>(data), size), config, "fuzz.conf");
  if (st) {
    // What it accepts is valid.
    if (config.capacity == 0 || config.max_devices == 0) std::abort();
    if (config.flush_period.count() <= 0) std::abort();
    if (config.socket_path.empty() || config.socket_path.front() != '/') std::abort();
  } else if (st.error().context.rfind("fuzz.conf:", 0) != 0) {
    std::abort();  // errors name the file and line
  }
  return 0;
}
