#include <string>
#include <vector>

#include "api/handlers.h"
#include "api/openapi_spec.h"
#include "api/telemetry.h"
#include "resolver/stats.h"

namespace netnsd {

using json = nlohmann::ordered_json;

void serve_healthz(ApiContext&, const httplib::Request&, httplib::Response& res) {
  send_json(res, 200, json{{"status", "ok"}});
}

void serve_readyz(ApiContext& api, const httplib::Request&, httplib::Response& res) {
  std::vector<std::string> reasons;
  if (api.deps.not_ready_reasons) reasons = api.deps.not_ready_reasons();
  if (reasons.empty()) {
    // Degraded still serves a correct cache, but refreshed by fewer sources
    // or not the whole host: a limit is in force.
    ResolverStats s = api.deps.resolver.stats();
    if (s.degraded) s.limits.insert(s.limits.begin(), s.degraded_reason);
    if (!s.limits.empty()) return send_json(res, 200, json{{"status", "degraded"}, {"reasons", s.limits}});
    return send_json(res, 200, json{{"status", "ready"}});
  }
  std::string sentence = "not ready: ";
  for (std::size_t i = 0; i < reasons.size(); ++i) sentence += (i ? "; " : "") + reasons[i];
  send_json(res, 503, json{{"error", sentence}, {"code", "not_ready"}, {"reasons", reasons}});
}

void serve_metrics(ApiContext& api, const httplib::Request&, httplib::Response& res) {
  const ResolverStats s = api.deps.resolver.stats();
  MetricsWriter out;
  out.sample("netnsd_ready", "", "gauge", "1 once the initial scan has completed.", s.ready ? 1 : 0);
  out.sample("netnsd_degraded", "", "gauge", "1 when running without eBPF events or under a limit (see /readyz).",
             s.degraded || !s.limits.empty() ? 1 : 0);
  for (const StatField& f : stat_fields()) {
    if (!f.metric.empty()) {
      out.sample(f.metric, f.labels, f.type, f.help, static_cast<double>(f.read(s)) * f.metric_scale);
    }
  }
  api.telemetry.write(out);
  res.set_content(out.take(), "text/plain; version=0.0.4");
}

void serve_openapi(ApiContext&, const httplib::Request&, httplib::Response& res) {
  res.set_content(std::string(openapi_yaml()), "application/yaml");
}

}  // namespace netnsd
