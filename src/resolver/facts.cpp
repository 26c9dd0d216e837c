#include "resolver/facts.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <tuple>
#include <type_traits>

#include "util/defaults.h"

namespace netnsd {

// A table holds one IPv4 route per destination, tos and priority. IPv6
// keeps one per device as well for routes without a gateway (fe80::/64 on
// every device, metric 256); routes through gateways with the same key are
// one multipath route.
FactStore::RouteKey FactStore::key_of(const Route& r) {
  const bool v6 = r.family == AF_INET6;
  const bool on_device = v6 && r.nexthops.size() == 1 && !r.nexthops.front().gateway;
  return RouteKey(r.table, r.family, r.dst, r.dst_len, r.tos, r.priority.value_or(0), v6 ? r.src : IpBytes{},
                  v6 ? r.src_len : 0, on_device ? r.nexthops.front().ifindex : 0);
}

FactStore::NeighbourKey FactStore::key_of(const Neighbour& n) {
  return NeighbourKey(n.ifindex, n.family, n.dst);
}

FactStore::OwnerUse* FactStore::owner_use(const Entry& e) {
  if (e.owner.host) return nullptr;
  return &owners_[e.owner.userns];
}

bool FactStore::room_for_route(const Entry& e) const {
  if (e.routes.size() >= budgets_.routes_per_namespace || routes_ >= budgets_.routes_total) return false;
  if (e.owner.host) return true;
  auto it = owners_.find(e.owner.userns);
  return it == owners_.end() || it->second.routes < budgets_.routes_per_owner;
}

bool FactStore::room_for_neighbour(const Entry& e) const {
  if (e.neighbours.size() >= budgets_.neighbours_per_namespace || neighbours_ >= budgets_.neighbours_total) {
    return false;
  }
  if (e.owner.host) return true;
  auto it = owners_.find(e.owner.userns);
  return it == owners_.end() || it->second.neighbours < budgets_.neighbours_per_owner;
}

const FactStore::RuleSet& FactStore::no_rules() {
  static const RuleSet none = std::make_shared<const std::vector<Rule>>();
  return none;
}

FactStore::RuleSet FactStore::intern(std::vector<Rule> rules) {
  if (rules.empty()) return no_rules();
  for (const RuleSet& set : rule_sets_) {
    if (*set == rules) return set;
  }
  auto made = std::make_shared<const std::vector<Rule>>(std::move(rules));
  if (rule_sets_.size() >= defaults::kInternedRuleSets) {
    // Those no namespace has any more make room.
    std::erase_if(rule_sets_, [](const RuleSet& set) { return set.use_count() == 1; });
  }
  if (rule_sets_.size() < defaults::kInternedRuleSets) rule_sets_.push_back(made);
  return made;
}

bool FactStore::room_for_rule(const Entry& e) const {
  return e.rules->size() < budgets_.rules_per_namespace && rules_ < budgets_.rules_total;
}

void FactStore::release(Entry& e) {
  routes_ -= e.routes.size();
  rules_ -= e.rules->size();
  neighbours_ -= e.neighbours.size();
  if (OwnerUse* use = owner_use(e)) {
    use->routes -= e.routes.size();
    use->neighbours -= e.neighbours.size();
    if (use->routes == 0 && use->neighbours == 0) owners_.erase(e.owner.userns);
  }
  e.routes.clear();
  e.rules = no_rules();
  e.neighbours.clear();
  e.routes_dropped = e.rules_dropped = e.neighbours_dropped = 0;
}

FactOutcome FactStore::apply_route(Entry& e, const Route& route, bool deleted) {
  const RouteKey key = key_of(route);
  auto it = e.routes.find(key);
  if (deleted) {
    if (it == e.routes.end()) {
      // One the store did not keep (over a budget), or never saw.
      if (e.routes_dropped > 0) --e.routes_dropped;
      return FactOutcome::unchanged;
    }
    // One next hop of an IPv6 multipath route going: which one stays is
    // the kernel's to say.
    if (route.family == AF_INET6 && it->second.nexthops.size() > 1 && it->second.nexthops != route.nexthops) {
      return FactOutcome::needs_listing;
    }
    e.routes.erase(it);
    --routes_;
    if (OwnerUse* use = owner_use(e)) --use->routes;
    return FactOutcome::removed;
  }
  if (it != e.routes.end()) {
    if (it->second == route) return FactOutcome::unchanged;
    it->second = route;
    return FactOutcome::changed;
  }
  if (!room_for_route(e)) {
    ++e.routes_dropped;
    return FactOutcome::dropped;
  }
  e.routes.emplace(key, route);
  ++routes_;
  if (OwnerUse* use = owner_use(e)) ++use->routes;
  return FactOutcome::added;
}

FactOutcome FactStore::apply_rule(Entry& e, const Rule& rule, bool deleted) {
  const std::vector<Rule>& rules = *e.rules;
  auto it = std::find(rules.begin(), rules.end(), rule);
  if (deleted) {
    if (it == rules.end()) {
      if (e.rules_dropped > 0) --e.rules_dropped;
      return FactOutcome::unchanged;
    }
    std::vector<Rule> edited(rules.begin(), it);
    edited.insert(edited.end(), std::next(it), rules.end());
    e.rules = intern(std::move(edited));
    --rules_;
    return FactOutcome::removed;
  }
  if (it != rules.end()) return FactOutcome::unchanged;
  if (!room_for_rule(e)) {
    ++e.rules_dropped;
    return FactOutcome::dropped;
  }
  std::vector<Rule> edited(rules);
  edited.push_back(rule);
  e.rules = intern(std::move(edited));
  ++rules_;
  return FactOutcome::added;
}

FactOutcome FactStore::apply_neighbour(Entry& e, const Neighbour& neighbour, bool deleted) {
  const NeighbourKey key = key_of(neighbour);
  auto it = e.neighbours.find(key);
  if (deleted) {
    if (it == e.neighbours.end()) {
      if (e.neighbours_dropped > 0) --e.neighbours_dropped;
      return FactOutcome::unchanged;
    }
    e.neighbours.erase(it);
    --neighbours_;
    if (OwnerUse* use = owner_use(e)) --use->neighbours;
    return FactOutcome::removed;
  }
  if (it != e.neighbours.end()) {
    if (it->second == neighbour) return FactOutcome::unchanged;
    it->second = neighbour;
    return FactOutcome::changed;
  }
  if (!room_for_neighbour(e)) {
    ++e.neighbours_dropped;
    return FactOutcome::dropped;
  }
  e.neighbours.emplace(key, neighbour);
  ++neighbours_;
  if (OwnerUse* use = owner_use(e)) ++use->neighbours;
  return FactOutcome::added;
}

namespace {

// What changed between two keyed maps of facts, appended to `out`.
template <class Map>
void compare(const Map& before, const Map& after, std::vector<FactStore::Difference>& out) {
  for (const auto& [key, fact] : after) {
    auto was = before.find(key);
    if (was == before.end()) {
      out.push_back({FactOutcome::added, fact});
    } else if (!(was->second == fact)) {
      out.push_back({FactOutcome::changed, fact});
    }
  }
  for (const auto& [key, fact] : before) {
    if (!after.count(key)) out.push_back({FactOutcome::removed, fact});
  }
}

}  // namespace

void FactStore::replace(NetnsId netns, const NamespaceOwner& owner, FactListing listing,
                        std::vector<Difference>* differences) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_[netns];
  const bool compared = differences && e.listed;
  std::map<RouteKey, Route> routes_before;
  RuleSet rules_before;
  std::map<NeighbourKey, Neighbour> neighbours_before;
  if (compared) {
    routes_before = e.routes;
    rules_before = e.rules;
    neighbours_before = e.neighbours;
  }
  release(e);
  e.owner = owner;
  e.listed = true;
  for (const Route& r : listing.routes) apply_route(e, r, false);
  for (const Rule& r : listing.rules) apply_rule(e, r, false);
  for (const Neighbour& n : listing.neighbours) apply_neighbour(e, n, false);
  e.routes_dropped += listing.routes_beyond;
  e.rules_dropped += listing.rules_beyond;
  e.neighbours_dropped += listing.neighbours_beyond;
  if (!compared) return;
  compare(routes_before, e.routes, *differences);
  compare(neighbours_before, e.neighbours, *differences);
  // Rules have no key but themselves.
  for (const Rule& r : *e.rules) {
    if (std::find(rules_before->begin(), rules_before->end(), r) == rules_before->end()) {
      differences->push_back({FactOutcome::added, r});
    }
  }
  for (const Rule& r : *rules_before) {
    if (std::find(e.rules->begin(), e.rules->end(), r) == e.rules->end()) {
      differences->push_back({FactOutcome::removed, r});
    }
  }
}

FactOutcome FactStore::apply(NetnsId netns, const NamespaceOwner& owner, const FactEvent& event) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = entries_.try_emplace(netns);
  Entry& e = it->second;
  if (fresh) e.owner = owner;
  return std::visit(
      [&](const auto& fact) -> FactOutcome {
        using T = std::decay_t<decltype(fact)>;
        if constexpr (std::is_same_v<T, Route>) {
          return apply_route(e, fact, event.deleted);
        } else if constexpr (std::is_same_v<T, Rule>) {
          return apply_rule(e, fact, event.deleted);
        } else {
          return apply_neighbour(e, fact, event.deleted);
        }
      },
      event.fact);
}

void FactStore::forget(NetnsId netns) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return;
  release(it->second);
  entries_.erase(it);
}

std::vector<Route> FactStore::default_routes(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  std::vector<Route> out;
  auto it = entries_.find(netns);
  if (it == entries_.end()) return out;
  for (const auto& [key, route] : it->second.routes) {
    if (route.table == RT_TABLE_MAIN && route.type == RTN_UNICAST && route.dst_len == 0) out.push_back(route);
  }
  std::stable_sort(out.begin(), out.end(), [](const Route& a, const Route& b) { return a.family < b.family; });
  return out;
}

std::optional<NamespaceFacts> FactStore::get(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  if (it == entries_.end()) return std::nullopt;
  const Entry& e = it->second;
  NamespaceFacts out;
  out.listed = e.listed;
  out.routes.reserve(e.routes.size());
  for (const auto& [key, route] : e.routes) out.routes.push_back(route);
  out.rules = *e.rules;
  std::stable_sort(out.rules.begin(), out.rules.end(), [](const Rule& a, const Rule& b) {
    return std::tie(a.family, a.priority) < std::tie(b.family, b.priority);
  });
  out.neighbours.reserve(e.neighbours.size());
  for (const auto& [key, neighbour] : e.neighbours) out.neighbours.push_back(neighbour);
  out.routes_dropped = e.routes_dropped;
  out.rules_dropped = e.rules_dropped;
  out.neighbours_dropped = e.neighbours_dropped;
  return out;
}

bool FactStore::truncated(NetnsId netns) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(netns);
  return it != entries_.end() &&
         (it->second.routes_dropped + it->second.rules_dropped + it->second.neighbours_dropped) > 0;
}

FactTotals FactStore::totals() const {
  std::lock_guard lock(mutex_);
  FactTotals t;
  t.routes = routes_;
  t.rules = rules_;
  t.neighbours = neighbours_;
  for (const auto& [netns, e] : entries_) {
    t.routes_dropped += e.routes_dropped;
    t.rules_dropped += e.rules_dropped;
    t.neighbours_dropped += e.neighbours_dropped;
    if (e.routes_dropped + e.rules_dropped + e.neighbours_dropped > 0) ++t.truncated_namespaces;
  }
  return t;
}

}  // namespace netnsd
