#include <string>
#include <vector>

#include "api/handlers.h"
#include "api/openapi_spec.h"
#include "api/telemetry.h"
#include "history/event_log.h"
#include "history/journal.h"
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
    if (api.deps.journal) {
      if (auto reason = api.deps.journal->stats().degraded) s.limits.push_back("history journal: " + *reason);
    }
    if (!s.limits.empty()) return send_json(res, 200, json{{"status", "degraded"}, {"reasons", s.limits}});
    return send_json(res, 200, json{{"status", "ready"}});
  }
  std::string sentence = "not ready: ";
  for (std::size_t i = 0; i < reasons.size(); ++i) sentence += (i ? "; " : "") + reasons[i];
  send_json(res, 503, json{{"error", sentence}, {"code", "not_ready"}, {"reasons", reasons}});
}

namespace {

void write_journal_metrics(MetricsWriter& out, const history::JournalStats& j) {
  out.sample("netnsd_journal_degraded", "", "gauge", "1 when the history journal cannot be written (see /readyz).",
             j.degraded ? 1 : 0);
  out.sample("netnsd_journal_changes_total", "", "counter", "Changes recorded in the history journal.",
             static_cast<double>(j.written));
  out.sample("netnsd_journal_changes_rate_limited_total", "", "counter",
             "Versions of flapping devices not recorded (each device's last version is).",
             static_cast<double>(j.rate_limited));
  out.sample("netnsd_journal_changes_lost_total", "", "counter",
             "Changes not recorded: the journal's queue overflowed or it could not write (a gap says when).",
             static_cast<double>(j.lost));
  out.sample("netnsd_journal_write_errors_total", "", "counter", "Journal transactions that failed.",
             static_cast<double>(j.write_errors));
  out.sample("netnsd_journal_batches_total", "", "counter", "Journal transactions committed.",
             static_cast<double>(j.batches));
  out.sample("netnsd_journal_write_seconds_total", "", "counter", "Time spent writing the journal.", j.write_seconds);
  out.sample("netnsd_journal_retention_runs_total", "", "counter", "Times the oldest history was removed.",
             static_cast<double>(j.retention_runs));
  out.sample("netnsd_journal_bytes", "", "gauge", "The journal's database, WAL and shared memory on disk.",
             static_cast<double>(j.bytes));
  out.sample("netnsd_journal_last_seq", "", "gauge", "The sequence number of the last change recorded.",
             static_cast<double>(j.last_seq));
}

void write_fact_metrics(MetricsWriter& out, const FactTotals& t) {
  out.sample("netnsd_routes", "", "gauge", "Routes kept live, over every cached namespace.",
             static_cast<double>(t.routes));
  out.sample("netnsd_routes_dropped", "", "gauge",
             "Routes the kernel has that are not kept: over a namespace's, an owner's or the total budget.",
             static_cast<double>(t.routes_dropped));
  out.sample("netnsd_rules", "", "gauge", "Policy routing rules kept live.", static_cast<double>(t.rules));
  out.sample("netnsd_rules_dropped", "", "gauge", "Policy routing rules not kept (over a budget).",
             static_cast<double>(t.rules_dropped));
  out.sample("netnsd_neighbours", "", "gauge", "ARP and NDP entries kept live.", static_cast<double>(t.neighbours));
  out.sample("netnsd_neighbours_dropped", "", "gauge", "ARP and NDP entries not kept (over a budget).",
             static_cast<double>(t.neighbours_dropped));
  out.sample("netnsd_routing_truncated_namespaces", "", "gauge",
             "Namespaces with routes, rules or neighbours not kept (over a budget).",
             static_cast<double>(t.truncated_namespaces));
}

void write_event_log_metrics(MetricsWriter& out, const history::EventLogStats& e) {
  out.sample("netnsd_event_log_changes_total", "", "counter", "Changes the event log (--event-log) was given.",
             static_cast<double>(e.changes));
  out.sample("netnsd_event_log_entries_total", "", "counter", "Changes written to the event log one by one.",
             static_cast<double>(e.entries));
  out.sample("netnsd_event_log_summarised_total", "", "counter",
             "Changes counted in the event log's summary entries (past its rate, lost or not written).",
             static_cast<double>(e.summarised));
  out.sample("netnsd_event_log_summaries_total", "", "counter", "Summary entries written to the event log.",
             static_cast<double>(e.summaries));
  out.sample("netnsd_event_log_lost_total", "", "counter",
             "Changes the event log's queue could not hold (summarised as lost).", static_cast<double>(e.lost));
  out.sample("netnsd_event_log_write_errors_total", "", "counter",
             "Event log entries that could not be written (their changes are summarised later).",
             static_cast<double>(e.write_errors));
}

}  // namespace

void serve_metrics(ApiContext& api, const httplib::Request&, httplib::Response& res) {
  const ResolverStats s = api.deps.resolver.stats();
  const std::optional<history::JournalStats> js =
      api.deps.journal ? std::optional(api.deps.journal->stats()) : std::nullopt;
  // The per-namespace series first: their refresh is counted in this answer.
  std::shared_ptr<const std::string> namespaces;
  if (api.deps.namespace_metrics) namespaces = api.deps.namespace_metrics->exposition();
  MetricsWriter out(api.deps.node_name.empty() ? std::string() : "node=\"" + label_value(api.deps.node_name) + "\"");
  out.sample("netnsd_ready", "", "gauge", "1 once the initial scan has completed.", s.ready ? 1 : 0);
  out.sample("netnsd_degraded", "", "gauge", "1 when running without eBPF events or under a limit (see /readyz).",
             s.degraded || !s.limits.empty() || (js && js->degraded) ? 1 : 0);
  if (js) write_journal_metrics(out, *js);
  for (const StatField& f : stat_fields()) {
    if (!f.metric.empty()) {
      out.sample(f.metric, f.labels, f.type, f.help, static_cast<double>(f.read(s)) * f.metric_scale);
    }
  }
  api.telemetry.write(out);
  if (api.deps.namespace_metrics) api.deps.namespace_metrics->write_stats(out);
  if (api.deps.event_log) write_event_log_metrics(out, api.deps.event_log->stats());
  if (api.deps.facts) write_fact_metrics(out, api.deps.facts->totals());
  std::string text = out.take();
  if (namespaces) text += *namespaces;
  res.set_content(std::move(text), "text/plain; version=0.0.4");
}

void serve_openapi(ApiContext&, const httplib::Request&, httplib::Response& res) {
  res.set_content(std::string(openapi_yaml()), "application/yaml");
}

}  // namespace netnsd
