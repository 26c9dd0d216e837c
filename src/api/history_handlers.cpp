// The past, from the journal: ?at= on the cache's resources, GET /v1/whois
// and GET /v1/history.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "api/handlers.h"
#include "api/history_params.h"
#include "dump/json_encoder.h"
#include "history/history_reader.h"
#include "util/json_writer.h"
#include "util/sha256.h"
#include "util/text.h"

namespace netnsd {
namespace {

using history::HistoryReader;

ApiError no_history() {
  return ApiError{503, "no_history",
                  "netnsd keeps no history (it runs with --no-journal, or its journal cannot be read)"};
}

ApiError journal_error(const Error& e) {
  spdlog::warn("history: {}", e.message());
  return ApiError{503, "history_unavailable", "the journal cannot be read now: " + e.message()};
}

// The instant asked for, checked against what the journal keeps.
Result<WallTime, ApiError> resolve(HistoryReader& reader, const InstantParam& p, std::string_view name) {
  auto span = reader.span();
  if (!span) return journal_error(span.error());
  WallTime t;
  if (p.seq) {
    auto when = reader.time_of(*p.seq);
    if (!when) return journal_error(when.error());
    if (!*when) {
      ApiError e{404, "history_not_retained",
                 "change " + std::to_string(*p.seq) + " (" + std::string(name) +
                     ") is not in the journal: older than what it keeps, or not made yet"};
      e.oldest = format_rfc3339_ms(span->first);
      return e;
    }
    t = **when;
  } else {
    t = *p.time;
  }
  if (t < span->first) {
    ApiError e{404, "history_not_retained",
               std::string(name) + " " + format_rfc3339_ms(t) + " is older than the journal keeps (from " +
                   format_rfc3339_ms(span->first) + ")"};
    e.oldest = format_rfc3339_ms(span->first);
    return e;
  }
  return t;
}

// `at` from the query, when given: nullopt when not; an error when bad.
Result<std::optional<WallTime>, ApiError> at_param(ApiContext& api, const httplib::Request& req) {
  std::optional<std::string> text;
  for (const auto& [key, value] : query_params(req)) {
    if (key != "at") continue;
    if (text) return ApiError::bad_request("invalid_at", "at given twice");
    text = value;
  }
  if (!text) return std::optional<WallTime>();
  auto parsed = parse_instant("at", *text, api.deps.resolver.now());
  if (!parsed) return parsed.error();
  if (!api.deps.history) return no_history();
  auto t = resolve(*api.deps.history, *parsed, "at");
  if (!t) return t.error();
  return std::optional<WallTime>(*t);
}

void write_gap(JsonWriter& out, const std::optional<history::Gap>& gap) {
  out.key("gap");
  if (!gap) {
    out.null();
    return;
  }
  out.begin_object()
      .field("from", format_rfc3339_ms(gap->from))
      .field("to", format_rfc3339_ms(gap->to))
      .field("reason", gap->reason)
      .end_object();
}

void write_instant(JsonWriter& out, const history::PointInTime& p) {
  out.field("at", format_rfc3339_ms(p.at)).field("observed", p.observed);
  write_gap(out, p.gap);
}

// Fetches the state at `at` (all namespaces, or `only`), or answers the error.
std::optional<history::PointInTime> state_or_error(ApiContext& api, httplib::Response& res, WallTime at,
                                                   const std::optional<std::vector<NetnsId>>& only = std::nullopt,
                                                   const std::map<NetnsId, std::vector<std::uint32_t>>& some = {}) {
  auto state = api.deps.history->state_at(at, only, some);
  if (!state) {
    send_error(res, journal_error(state.error()));
    return std::nullopt;
  }
  return std::move(*state);
}

}  // namespace

Result<PastState, ApiError> past_state(ApiContext& api, std::string_view text,
                                       const std::optional<std::vector<NetnsId>>& only) {
  auto parsed = parse_instant("at", text, api.deps.resolver.now());
  if (!parsed) return parsed.error();
  return past_state(api, *parsed, "at", only);
}

Result<PastState, ApiError> past_state(ApiContext& api, const InstantParam& instant, std::string_view name,
                                       const std::optional<std::vector<NetnsId>>& only) {
  if (!api.deps.history) return no_history();
  auto at = resolve(*api.deps.history, instant, name);
  if (!at) return at.error();
  auto state = api.deps.history->state_at(*at, only);
  if (!state) return journal_error(state.error());
  PastState out;
  out.instant.at = state->at;
  out.instant.observed = state->observed;
  if (state->gap) {
    out.instant.gap_from = state->gap->from;
    out.instant.gap_to = state->gap->to;
    out.instant.gap_reason = state->gap->reason;
  }
  out.namespaces = std::move(state->namespaces);
  return out;
}

bool serve_namespaces_at(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  auto at = at_param(api, req);
  if (!at) {
    send_error(res, at.error());
    return true;
  }
  if (!*at) return false;
  TrimHeapOnExit trim;
  auto state = state_or_error(api, res, **at);
  if (!state) return true;
  JsonWriter out(/*pretty=*/false);
  out.reserve(256 + state->namespaces.size() * 512);
  out.begin_object();
  write_instant(out, *state);
  out.key("namespaces").begin_array();
  for (const NamespaceView& ns : state->namespaces) write_namespace(out, ns, nullptr);
  out.end_array().end_object();
  res.status = 200;
  res.set_content(out.take(), kJsonType);
  return true;
}

bool serve_one_namespace_at(ApiContext& api, const httplib::Request& req, httplib::Response& res,
                            const std::string& key, std::optional<NetnsId> id) {
  auto at = at_param(api, req);
  if (!at) {
    send_error(res, at.error());
    return true;
  }
  if (!*at) return false;
  auto state = state_or_error(api, res, **at);
  if (!state) return true;
  std::vector<const NamespaceView*> found;
  for (const NamespaceView& ns : state->namespaces) {
    if (id ? ns.netns == *id : std::find(ns.names.begin(), ns.names.end(), key) != ns.names.end()) {
      found.push_back(&ns);
    }
  }
  if (found.size() > 1) {
    send_error(res,
               ApiError{409, "ambiguous_name", "several namespaces were mounted as '" + key + "' then; ask by inode"});
    return true;
  }
  if (found.empty()) {
    send_error(res, ApiError{404, "namespace_not_found",
                             "no network namespace '" + key + "' at " + format_rfc3339_ms(state->at)});
    return true;
  }
  JsonWriter out(/*pretty=*/false);
  out.begin_object();
  write_instant(out, *state);
  out.key("namespace");
  write_namespace(out, *found.front(), nullptr);
  out.end_object();
  res.status = 200;
  res.set_content(out.take(), kJsonType);
  return true;
}

namespace {

// The matches of a whois at `at` from the journal, written as the cache's
// whois writes them, each with how long it held what was asked for.
void answer_whois_at(ApiContext& api, httplib::Response& res, const history::Subject& subject, const char* key,
                     WallTime at) {
  auto holders = api.deps.history->holders_at(subject, at);
  if (!holders) return send_error(res, journal_error(holders.error()));
  // The devices that held it, then their peers and lower devices: only
  // those are read from the journal (a host namespace's thousand veths are
  // not).
  std::vector<NetnsId> wanted;
  std::map<NetnsId, std::vector<std::uint32_t>> devices;
  for (const history::Holding& h : *holders) {
    wanted.push_back(h.netns);
    devices[h.netns].push_back(h.ifindex);
  }
  auto state = state_or_error(api, res, at, wanted, devices);
  if (!state) return;
  std::vector<NetnsId> ends;
  std::map<NetnsId, std::vector<std::uint32_t>> end_devices;
  for (const NamespaceView& ns : state->namespaces) {
    for (const Device& d : ns.devices) {
      for (const auto* link : {&d.peer, &d.lower}) {
        if (!*link || !(*link)->netns) continue;
        if (std::find(ends.begin(), ends.end(), *(*link)->netns) == ends.end()) ends.push_back(*(*link)->netns);
        end_devices[*(*link)->netns].push_back((*link)->ifindex);
      }
    }
  }
  std::map<NetnsId, NamespaceView> merged;
  for (NamespaceView& ns : state->namespaces) merged.emplace(ns.netns, std::move(ns));
  if (!ends.empty()) {
    auto more = state_or_error(api, res, at, ends, end_devices);
    if (!more) return;
    for (NamespaceView& ns : more->namespaces) {
      auto [it, added] = merged.emplace(ns.netns, ns);
      if (added) continue;
      for (Device& d : ns.devices) {
        auto& list = it->second.devices;
        if (std::none_of(list.begin(), list.end(), [&](const Device& x) { return x.ifindex == d.ifindex; })) {
          list.push_back(std::move(d));
        }
      }
    }
  }
  std::map<NetnsId, const NamespaceView*> by_inode;
  for (const auto& [inode, ns] : merged) by_inode[inode] = &ns;
  std::vector<std::pair<NetnsId, std::uint32_t>> matches;
  for (const history::Holding& h : *holders) matches.emplace_back(h.netns, h.ifindex);
  JsonWriter out(/*pretty=*/false);
  out.begin_object().field(key, subject.value);
  write_instant(out, *state);
  out.key("matches");
  write_whois_matches(
      out, matches,
      [&](NetnsId netns) -> const NamespaceView* {
        auto it = by_inode.find(netns);
        return it == by_inode.end() ? nullptr : it->second;
      },
      api.deps.dumper.host_netns(),
      [&](JsonWriter& w, std::size_t i) {
        const history::Holding& h = (*holders)[i];
        w.field("held_from", format_rfc3339_ms(h.from)).key("held_until");
        if (h.to) {
          w.value(format_rfc3339_ms(*h.to));
        } else {
          w.null();
        }
        w.field("end_observed", h.end_observed);
      });
  out.end_object();
  res.status = 200;
  res.set_content(out.take(), kJsonType);
}

// Devices of the live cache that hold an address or a MAC now.
std::vector<std::pair<NetnsId, std::uint32_t>> live_holders(const std::vector<NamespaceView>& views,
                                                            const history::Subject& subject) {
  std::vector<std::pair<NetnsId, std::uint32_t>> out;
  for (const NamespaceView& ns : views) {
    for (const Device& d : ns.devices) {
      bool match = false;
      if (subject.kind == history::SubjectKind::device) match = d.name == subject.value;
      if (subject.kind == history::SubjectKind::mac) match = d.mac == subject.value;
      if (subject.kind == history::SubjectKind::address) {
        for (const Address& a : d.addresses) match = match || address_text(a) == subject.value;
      }
      if (match) out.emplace_back(ns.netns, d.ifindex);
    }
  }
  return out;
}

const char* subject_key(history::SubjectKind kind) {
  switch (kind) {
    case history::SubjectKind::address:
      return "address";
    case history::SubjectKind::mac:
      return "mac";
    default:
      return "device";
  }
}

}  // namespace

bool serve_device_at(ApiContext& api, const httplib::Request& req, httplib::Response& res, const std::string& name) {
  auto at = at_param(api, req);
  if (!at) {
    send_error(res, at.error());
    return true;
  }
  if (!*at) return false;
  answer_whois_at(api, res, {history::SubjectKind::device, name}, "name", **at);
  return true;
}

void serve_whois(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  const ParamList query = query_params(req);
  if (asks_by_port(query)) {
    // Now only, from the kernel: sockets are never cached.
    auto by_port = parse_port_whois_params(query);
    if (!by_port) return send_error(res, by_port.error());
    TrimHeapOnExit trim;
    res.status = 200;
    res.set_content(api.deps.dumper.whois_port(by_port->port, by_port->protocol), kJsonType);
    return;
  }
  auto params = parse_whois_params(query, api.deps.resolver.now());
  if (!params) return send_error(res, params.error());
  const char* key = subject_key(params->subject.kind);
  if (params->at) {
    if (!api.deps.history) return send_error(res, no_history());
    auto at = resolve(*api.deps.history, *params->at, "at");
    if (!at) return send_error(res, at.error());
    return answer_whois_at(api, res, params->subject, key, *at);
  }
  // Now: from the cache.
  TrimHeapOnExit trim;
  const std::vector<NamespaceView> views = api.deps.resolver.snapshot();
  std::map<NetnsId, const NamespaceView*> by_inode;
  for (const NamespaceView& ns : views) by_inode[ns.netns] = &ns;
  JsonWriter out(/*pretty=*/false);
  out.begin_object()
      .field(key, params->subject.value)
      .field("at", format_rfc3339_ms(api.deps.resolver.now()))
      .field("observed", true)
      .key("gap")
      .null()
      .key("matches");
  write_whois_matches(
      out, live_holders(views, params->subject),
      [&](NetnsId netns) -> const NamespaceView* {
        auto it = by_inode.find(netns);
        return it == by_inode.end() ? nullptr : it->second;
      },
      api.deps.dumper.host_netns(), nullptr);
  out.end_object();
  res.status = 200;
  res.set_content(out.take(), kJsonType);
}

void serve_history_export(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  if (!query_params(req).empty()) {
    return send_error(res, ApiError::bad_request("unknown_parameter", "the export takes no parameters"));
  }
  if (!api.deps.history) return send_error(res, no_history());
  auto copy = api.deps.history->export_copy();
  if (!copy) return send_error(res, journal_error(copy.error()));
  // The digest first (it goes in a header), then the bytes.
  Sha256 digest;
  std::vector<char> buffer(1 << 16);
  std::size_t size = 0;
  for (;;) {
    const ssize_t n = ::read(copy->get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return send_error(res, journal_error(Error::os("read the copy")));
    if (n == 0) break;
    digest.update(buffer.data(), static_cast<std::size_t>(n));
    size += static_cast<std::size_t>(n);
  }
  auto fd = std::make_shared<Fd>(std::move(*copy));
  spdlog::info("history: {} exported the journal ({} bytes)", peer_of(req), size);
  res.status = 200;
  res.set_header("X-Content-SHA256", digest.hex());
  res.set_header("Content-Disposition", "attachment; filename=\"netnsd-journal.db\"");
  res.set_content_provider(
      size, "application/vnd.sqlite3", [fd](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        std::vector<char> chunk(std::min<std::size_t>(length, 1 << 16));
        const ssize_t n = ::pread(fd->get(), chunk.data(), chunk.size(), static_cast<off_t>(offset));
        if (n <= 0) return false;
        return sink.write(chunk.data(), static_cast<std::size_t>(n));
      });
}

void serve_history(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  auto params = parse_history_params(query_params(req), api.deps.resolver.now());
  if (!params) return send_error(res, params.error());
  if (!api.deps.history) return send_error(res, no_history());
  HistoryReader& reader = *api.deps.history;
  auto span = reader.span();
  if (!span) return send_error(res, journal_error(span.error()));
  WallTime from = span->first;
  WallTime to = api.deps.resolver.now() + std::chrono::seconds(1);
  if (params->from) {
    auto t = resolve(reader, *params->from, "from");
    if (!t) return send_error(res, t.error());
    from = *t;
  }
  if (params->to) {
    if (params->to->time && *params->to->time < span->first) {
      ApiError e{404, "history_not_retained", "to is older than the journal keeps"};
      e.oldest = format_rfc3339_ms(span->first);
      return send_error(res, e);
    }
    auto t = params->to->seq ? resolve(reader, *params->to, "to") : Result<WallTime, ApiError>(*params->to->time);
    if (!t) return send_error(res, t.error());
    to = *t + std::chrono::microseconds(1);  // inclusive of the change asked for
  }
  if (from > to) return send_error(res, ApiError::bad_request("reversed_interval", "from is after to"));
  auto gaps = reader.gaps(from, to);
  if (!gaps) return send_error(res, journal_error(gaps.error()));

  // Paged: each page is one short read transaction, taken when the client
  // has taken the last one (a slow reader holds no snapshot).
  struct Cursor {
    std::uint64_t after;
    std::vector<history::Gap> gaps;
    std::size_t next_gap = 0;
    bool done = false;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{params->after, std::move(*gaps)});
  auto subject = params->subject;
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "application/x-ndjson", [&api, &reader, cursor, subject, from, to](std::size_t, httplib::DataSink& sink) {
        auto gap_line = [](const history::Gap& g) {
          JsonWriter w(/*pretty=*/false);
          w.begin_object()
              .field("type", "gap")
              .field("from", format_rfc3339_ms(g.from))
              .field("to", format_rfc3339_ms(g.to))
              .field("reason", g.reason)
              .end_object();
          std::string line = w.take();
          if (line.empty() || line.back() != '\n') line += '\n';
          return line;
        };
        if (cursor->done || api.stopping) {
          sink.done();
          return true;
        }
        auto page = reader.changes(subject, from, to, cursor->after, defaults::kHistoryPage);
        if (!page) {
          spdlog::warn("history: {}", page.error().message());
          return false;  // cut: the client sees an incomplete chunked answer
        }
        std::string out;
        for (const history::HistoryLine& line : *page) {
          while (cursor->next_gap < cursor->gaps.size() && cursor->gaps[cursor->next_gap].from <= line.at) {
            out += gap_line(cursor->gaps[cursor->next_gap++]);
          }
          out += line.json;
          out += '\n';
          cursor->after = line.seq;
        }
        if (page->size() < defaults::kHistoryPage) {
          while (cursor->next_gap < cursor->gaps.size()) out += gap_line(cursor->gaps[cursor->next_gap++]);
          cursor->done = true;
        }
        if (out.empty()) {
          sink.done();
          return true;
        }
        return sink.write(out.data(), out.size());
      });
}

}  // namespace netnsd
