// Fuzzes POST /dump's parameter parsing: the body, its Content-Type and the
// query string all come from the client. The first byte picks the content
// type, and the rest is split at the first NUL into body and query string.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/dump_params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const kTypes[] = {"application/json", "application/x-www-form-urlencoded", "", "text/plain"};
  const char* type = kTypes[data[0] % 4];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t split = rest.find('\0');
  const std::string body(rest.substr(0, split));
  const std::string query(split == std::string_view::npos ? std::string_view() : rest.substr(split + 1));
  auto params = netnsd::parse_dump_params(body, type, netnsd::parse_form(query));
  if (params) {
    if (params->format == netnsd::DumpFormat::dot && !params->stream) std::abort();  // format needs a stream
    if (params->request.netns) {
      for (netnsd::NetnsId id : *params->request.netns) {
        if (id == 0 || id > 0xffffffffu) std::abort();
      }
    }
  } else if (params.error().status != 400 || params.error().code.empty() || params.error().message.empty()) {
    std::abort();
  }
  return 0;
}
