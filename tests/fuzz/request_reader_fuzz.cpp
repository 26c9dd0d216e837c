// Fuzzes the HTTP request reader, which sees every byte a client sends
// before cpp-httplib does. The first byte says where the rest is cut into
// the pieces the reader is fed (as reads of a socket would cut it); the
// answers must not depend on the cutting, and what the reader hands on must
// read as a whole request again.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_reader.h"

namespace {

struct Seen {
  std::vector<std::string> taken;
  int refused = 0;  // the status, 0 when none
};

Seen read_all(std::string_view bytes, std::size_t piece) {
  netnsd::RequestReader reader;
  Seen seen;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    auto state = reader.feed(bytes.substr(at, piece));
    while (state == netnsd::RequestReader::State::complete) {
      const netnsd::RequestHead head = *reader.head();
      const std::string request = reader.take();
      // Handed on whole: the target in origin form, the same head.
      if (head.target.empty() || head.target[0] != '/') std::abort();
      if (head.path != head.target.substr(0, head.target.find('?'))) std::abort();
      netnsd::RequestReader again;
      if (again.feed(request) != netnsd::RequestReader::State::complete || again.head()->target != head.target ||
          again.head()->content_length != head.content_length || again.take() != request) {
        std::abort();
      }
      seen.taken.push_back(request);
      state = reader.state();
    }
    if (state == netnsd::RequestReader::State::refused) {
      const netnsd::ApiError& e = reader.refusal();
      if (e.status < 400 || e.status > 431 || e.code.empty() || e.message.empty()) std::abort();
      seen.refused = e.status;
      break;
    }
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const Seen whole = read_all(bytes, bytes.size() + 1);
  const Seen cut = read_all(bytes, piece);
  if (whole.taken != cut.taken || whole.refused != cut.refused) std::abort();
  return 0;
}
