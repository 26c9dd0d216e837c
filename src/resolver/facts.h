// FactStore: each cached namespace's routes, policy rules and neighbours,
// kept live from its rtnetlink traffic, within budgets.
//
// Beside the Resolver rather than in it: a namespace's routes can number
// thousands, and the cache's views are copied whole for every listing of
// namespaces; facts are read one namespace at a time, when asked.
//
// Budgets (defaults.h, FactBudgets): per namespace, per owner outside the
// host's user namespace, and in total. What does not fit is counted, not
// kept: the namespace is then `truncated` for that kind, with how many the
// kernel has that the store does not keep (exact after a listing; kept up
// to date from notifications until the next one). The host's namespace
// competes for the total like any other, but an unprivileged owner's
// namespaces never take more than their owner's budget.
//
// Threading: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "resolver/model.h"
#include "resolver/routing.h"
#include "util/defaults.h"

namespace netnsd {

struct FactBudgets {
  std::size_t routes_per_namespace = defaults::kRoutesPerNamespace;
  std::size_t routes_per_owner = defaults::kRoutesPerOwner;
  std::size_t routes_total = defaults::kRoutesTotal;
  std::size_t rules_per_namespace = defaults::kRulesPerNamespace;
  std::size_t rules_total = defaults::kRulesTotal;
  std::size_t neighbours_per_namespace = defaults::kNeighboursPerNamespace;
  std::size_t neighbours_per_owner = defaults::kNeighboursPerOwner;
  std::size_t neighbours_total = defaults::kNeighboursTotal;
};

// One notification: a route, a rule or a neighbour added, changed or gone.
struct FactEvent {
  bool deleted = false;
  // An IPv6 next hop appended to a route the message does not describe
  // whole: the namespace's routes must be listed again.
  bool partial = false;
  std::variant<Route, Rule, Neighbour> fact;
};

// What one namespace has, as listed (in the kernel's order): at most a
// namespace's budget of each kind, and how many more the kernel gave (a
// host with a full Internet table lists a million routes: counted, never
// held).
struct FactListing {
  std::vector<Route> routes;
  std::vector<Rule> rules;
  std::vector<Neighbour> neighbours;
  std::uint64_t routes_beyond = 0, rules_beyond = 0, neighbours_beyond = 0;
};

// A copy of one namespace's facts, sorted: routes by table, family,
// destination; rules by family and priority; neighbours by device and
// address. `*_dropped` is how many the kernel has beyond what is kept.
struct NamespaceFacts {
  bool listed = false;  // a listing has been applied (before it, only notifications)
  std::vector<Route> routes;
  std::vector<Rule> rules;
  std::vector<Neighbour> neighbours;
  std::uint64_t routes_dropped = 0, rules_dropped = 0, neighbours_dropped = 0;
};

struct FactTotals {
  std::uint64_t routes = 0, rules = 0, neighbours = 0;
  std::uint64_t routes_dropped = 0, rules_dropped = 0, neighbours_dropped = 0;
  std::uint64_t truncated_namespaces = 0;
};

// What applying a notification did.
enum class FactOutcome {
  added,
  changed,
  removed,
  unchanged,  // the same fact again, or the deletion of one not kept
  dropped,    // over a budget: counted, not kept
  // It names part of a kept route (one next hop of an IPv6 multipath
  // route): the namespace's routes must be listed again.
  needs_listing,
};

class FactStore {
 public:
  explicit FactStore(FactBudgets budgets = {}) : budgets_(budgets) {}

  // A fact that a listing found changed: what it is now (or was, when it
  // is gone).
  struct Difference {
    FactOutcome outcome = FactOutcome::added;  // added, changed or removed
    std::variant<Route, Rule, Neighbour> fact;
  };
  // Replaces what namespace `netns` (owned by `owner`) has with a listing.
  // When `differences` is given and the namespace was listed before, what
  // the listing added, changed or removed is appended to it (a namespace's
  // first listing is what it had, not changes).
  void replace(NetnsId netns, const NamespaceOwner& owner, FactListing listing,
               std::vector<Difference>* differences = nullptr);
  // Applies one notification.
  FactOutcome apply(NetnsId netns, const NamespaceOwner& owner, const FactEvent& event);
  // Forgets a namespace that left the cache.
  void forget(NetnsId netns);

  std::optional<NamespaceFacts> get(NetnsId netns) const;
  // Its default routes (main table, unicast, destination length 0), IPv4
  // then IPv6: what the graph shows of a namespace's routing.
  std::vector<Route> default_routes(NetnsId netns) const;
  // Whether the namespace dropped routes, rules or neighbours (a listing
  // later may find room for them once some are gone).
  bool truncated(NetnsId netns) const;
  FactTotals totals() const;
  const FactBudgets& budgets() const { return budgets_; }

 private:
  using RouteKey = std::tuple<std::uint32_t, std::uint8_t, IpBytes, std::uint8_t, std::uint8_t, std::uint32_t, IpBytes,
                              std::uint8_t, std::uint32_t>;
  using NeighbourKey = std::tuple<std::uint32_t, std::uint8_t, IpBytes>;
  static RouteKey key_of(const Route& r);
  static NeighbourKey key_of(const Neighbour& n);

  struct Entry {
    NamespaceOwner owner;
    bool listed = false;
    std::map<RouteKey, Route> routes;
    // Shared with every namespace that has the same rules (nearly all have
    // the kernel's five defaults): replaced, never changed in place.
    std::shared_ptr<const std::vector<Rule>> rules = no_rules();
    std::map<NeighbourKey, Neighbour> neighbours;
    std::uint64_t routes_dropped = 0, rules_dropped = 0, neighbours_dropped = 0;
  };
  // Per owner outside the host's user namespace (by owning user namespace).
  struct OwnerUse {
    std::uint64_t routes = 0, neighbours = 0;
  };

  using RuleSet = std::shared_ptr<const std::vector<Rule>>;
  static const RuleSet& no_rules();
  // The set equal to `rules` that a namespace already has, else `rules`
  // (kept for the next namespace, among at most kInternedRuleSets).
  RuleSet intern(std::vector<Rule> rules);

  bool room_for_route(const Entry& e) const;
  bool room_for_neighbour(const Entry& e) const;
  bool room_for_rule(const Entry& e) const;
  OwnerUse* owner_use(const Entry& e);
  void release(Entry& e);  // takes its counts off the totals and its owner's
  FactOutcome apply_route(Entry& e, const Route& route, bool deleted);
  FactOutcome apply_rule(Entry& e, const Rule& rule, bool deleted);
  FactOutcome apply_neighbour(Entry& e, const Neighbour& neighbour, bool deleted);

  const FactBudgets budgets_;
  mutable std::mutex mutex_;
  std::unordered_map<NetnsId, Entry> entries_;
  std::unordered_map<NetnsId, OwnerUse> owners_;  // by owning user namespace
  std::uint64_t routes_ = 0, rules_ = 0, neighbours_ = 0;
  std::vector<RuleSet> rule_sets_;  // interned
};

}  // namespace netnsd
