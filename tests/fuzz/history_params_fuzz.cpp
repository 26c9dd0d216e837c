// Fuzzes the history's query parameters (GET /v1/history, /v1/whois,
// /v1/diff, and at= wherever it is taken): a query string from the client,
// decoded, then parsed by each of them against a fixed "now". The first
// byte picks which.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/history_params.h"

namespace {

using netnsd::WallTime;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

// What every refusal must be: a 400 with a code and a sentence.
void check_refusal(const netnsd::ApiError& e) {
  if (e.status != 400 || e.code.empty() || e.message.empty()) std::abort();
}

// An accepted instant is a time no later than a second after now, or a
// sequence number; never both.
void check_instant(const netnsd::InstantParam& p) {
  if (p.time.has_value() == p.seq.has_value()) std::abort();
  if (p.time && *p.time > kNow + std::chrono::seconds(1)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string query(reinterpret_cast<const char*>(data + 1), size - 1);
  const netnsd::ParamList params = netnsd::parse_form(query);
  switch (data[0] % 4) {
    case 0: {
      auto p = netnsd::parse_history_params(params, kNow);
      if (!p) return check_refusal(p.error()), 0;
      if (p->from) check_instant(*p->from);
      if (p->to) check_instant(*p->to);
      if (p->from && p->to && p->from->time && p->to->time && *p->from->time > *p->to->time) std::abort();
      break;
    }
    case 1: {
      auto p = netnsd::parse_whois_params(params, kNow);
      if (!p) return check_refusal(p.error()), 0;
      if (p->subject.value.empty()) std::abort();
      if (p->at) check_instant(*p->at);
      break;
    }
    case 2: {
      auto p = netnsd::parse_diff_params(params, kNow);
      if (!p) return check_refusal(p.error()), 0;
      if (!p->from) std::abort();  // required
      check_instant(*p->from);
      if (p->to) check_instant(*p->to);
      break;
    }
    default: {
      auto p = netnsd::parse_instant("at", query, kNow);
      if (!p) return check_refusal(p.error()), 0;
      check_instant(*p);
    }
  }
  return 0;
}
