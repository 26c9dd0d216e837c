#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

#include "api/event_params.h"
#include "api/handlers.h"
#include "dump/event_encoder.h"
#include "history/history_reader.h"
#include "history/journal.h"

namespace netnsd {
namespace {

// How often a change stream with nothing to send checks whether the server
// is stopping or its client has gone.
constexpr std::chrono::milliseconds kStreamWake{200};

// Lines of the journal for a stream that asked for changes older than the
// memory holds: (after, until], a page per call, as the stream shows them,
// with `lost` where the journal has none (older than it keeps, or a flapping
// device's versions it did not record).
struct Replay {
  std::uint64_t after = 0;
  std::uint64_t until = 0;
  ChangeFilter filter;

  bool done() const { return after >= until; }

  // One page; false when the journal cannot be read (the stream is cut).
  bool page(history::HistoryReader& reader, std::string& out, WallTime now) {
    auto lines = reader.changes(std::nullopt, WallTime{}, now + std::chrono::hours(1), after, defaults::kHistoryPage);
    if (!lines) {
      spdlog::warn("events: replay from the journal: {}", lines.error().message());
      return false;
    }
    std::uint64_t missing = 0;
    for (const history::HistoryLine& line : *lines) {
      if (line.seq > until) break;
      missing += line.seq - after - 1;
      after = line.seq;
      if (missing) {
        out += lost_to_ndjson(missing, now);
        missing = 0;
      }
      if (accepts(line.json)) out += line.json + "\n";
    }
    if (lines->size() < defaults::kHistoryPage || (!lines->empty() && lines->back().seq >= until)) {
      if (after < until) out += lost_to_ndjson(until - after, now);
      after = until;
    }
    return true;
  }

  // The same filter as the live stream's (ChangeFilter::accepts), on a
  // change read back from the journal.
  bool accepts(const std::string& json) const {
    auto e = nlohmann::json::parse(json, nullptr, false);
    if (!e.is_object()) return false;
    auto kinds = change_kinds(e.value("type", std::string()));
    if (!kinds || kinds->size() != 1) return false;
    Change c;
    c.kind = *kinds->begin();
    c.netns = e.value("netns", NetnsId{0});
    return filter.accepts(c);
  }
};

}  // namespace

void serve_events(ApiContext& api, const httplib::Request& req, httplib::Response& res) {
  auto params = parse_event_params(query_params(req));
  if (!params) return send_error(res, params.error());
  ChangeFeed* feed = api.deps.feed;
  if (!feed) return send_error(res, ApiError{503, "no_event_stream", "this server streams no changes"});
  std::shared_ptr<ChangeFeed::Subscription> subscription = feed->subscribe(params->filter, params->since);
  if (!subscription) {
    res.set_header("Retry-After", "5");
    return send_error(res, ApiError{503, "too_many_subscribers",
                                    "the change stream has as many subscribers as it takes; retry later"});
  }
  const std::string who = peer_of(req);
  spdlog::info("events: {} subscribed", who);
  // Older than the memory holds: the subscription starts with a `lost` for
  // them; the journal has them, read first, a page at a time.
  auto replay = std::make_shared<std::optional<Replay>>();
  if (params->since && api.deps.history) {
    auto first = subscription->next(std::chrono::milliseconds(0));
    if (!first.empty() && !first.front().change) {
      const std::uint64_t until = *params->since + first.front().lost;
      if (api.deps.journal) api.deps.journal->wait_written(until, std::chrono::seconds(2));
      *replay = Replay{*params->since, until, params->filter};
      first.erase(first.begin());
    }
    subscription->put_back(std::move(first));
  }
  // Streams hold a worker each for as long as they last: they wake up
  // often enough to notice the server stopping or the client gone, and say
  // they are alive when quiet. A write waits for a paused reader up to the
  // stall limit (see RequestStream).
  auto quiet = std::make_shared<std::chrono::milliseconds>(0);
  auto first = std::make_shared<bool>(true);
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider("application/x-ndjson", [&api, feed, subscription, quiet, first, who, replay](
                                                               std::size_t, httplib::DataSink& sink) {
    Resolver& resolver = api.deps.resolver;
    std::string out;
    if (*first) {
      // Says where the stream starts: a client can come back with ?since=.
      out = marker_to_ndjson("subscribed", feed->last_seq(), resolver.now());
      *first = false;
    }
    if (*replay && !(*replay)->done()) {
      if (!(*replay)->page(*api.deps.history, out, resolver.now())) return false;
      return out.empty() || sink.write(out.data(), out.size());
    }
    for (const FeedItem& item : subscription->next(out.empty() ? kStreamWake : std::chrono::milliseconds(0))) {
      out += item.change ? change_to_ndjson(*item.change) : lost_to_ndjson(item.lost, resolver.now());
    }
    if (out.empty()) {
      if (api.stopping || subscription->closed() || !sink.is_writable()) {
        sink.done();
        return true;
      }
      *quiet += kStreamWake;
      if (*quiet < api.options.event_heartbeat) return true;
      out = marker_to_ndjson("heartbeat", feed->last_seq(), resolver.now());
    }
    *quiet = std::chrono::milliseconds(0);
    if (sink.write(out.data(), out.size())) return true;
    spdlog::info("events: {} stream ended", who);  // gone, or let go (RequestStream says why)
    return false;
  });
}

}  // namespace netnsd
