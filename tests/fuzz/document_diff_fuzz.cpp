// Fuzzes the comparison of two dump documents: netnsctl diff reads dump
// files from anywhere (another host, an incident's archive). The input is
// split at the first NUL into the two documents; whatever JSON they hold,
// the diff is an answer or an error, and its text can be printed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "diff/document_diff.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  auto a = nlohmann::json::parse(input.substr(0, split), nullptr, /*allow_exceptions=*/false);
  auto b = nlohmann::json::parse(input.substr(split + 1), nullptr, /*allow_exceptions=*/false);
  if (a.is_discarded() || b.is_discarded()) return 0;
  auto diff = netnsd::diff_documents(a, b);
  if (!diff) {
    if (diff.error().message().empty()) std::abort();
    return 0;
  }
  if (!(*diff).contains("changes") || !(*diff)["changes"].is_array()) std::abort();
  const std::string text = netnsd::diff_to_text(*diff);
  if (text.empty() || text.back() != '\n') std::abort();
  // A document compared with itself has no differences.
  auto same = netnsd::diff_documents(a, a);
  if (same && !(*same)["changes"].empty()) std::abort();
  return 0;
}
