#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

#include "api/event_params.h"
#include "api/handlers.h"
#include "dump/event_encoder.h"

namespace netnsd {
namespace {

// How often a change stream with nothing to send checks whether the server
// is stopping or its client has gone.
constexpr std::chrono::milliseconds kStreamWake{200};

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
  // Streams hold a worker each for as long as they last: they wake up
  // often enough to notice the server stopping or the client gone, and say
  // they are alive when quiet. A write waits for a paused reader up to the
  // stall limit (see RequestStream).
  auto quiet = std::make_shared<std::chrono::milliseconds>(0);
  auto first = std::make_shared<bool>(true);
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "application/x-ndjson", [&api, feed, subscription, quiet, first, who](std::size_t, httplib::DataSink& sink) {
        Resolver& resolver = api.deps.resolver;
        std::string out;
        if (*first) {
          // Says where the stream starts: a client can come back with ?since=.
          out = marker_to_ndjson("subscribed", feed->last_seq(), resolver.now());
          *first = false;
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
