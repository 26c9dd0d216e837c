#include "resolver/changes.h"

#include <algorithm>
#include <utility>

namespace netnsd {

namespace {

constexpr std::pair<ChangeKind, std::string_view> kKindNames[] = {
    {ChangeKind::netns_added, "netns_added"},
    {ChangeKind::netns_changed, "netns_changed"},
    {ChangeKind::netns_removed, "netns_removed"},
    {ChangeKind::device_added, "device_added"},
    {ChangeKind::device_changed, "device_changed"},
    {ChangeKind::device_removed, "device_removed"},
    {ChangeKind::address_added, "address_added"},
    {ChangeKind::address_changed, "address_changed"},
    {ChangeKind::address_removed, "address_removed"},
    {ChangeKind::route_added, "route_added"},
    {ChangeKind::route_changed, "route_changed"},
    {ChangeKind::route_removed, "route_removed"},
    {ChangeKind::rule_added, "rule_added"},
    {ChangeKind::rule_removed, "rule_removed"},
    {ChangeKind::neighbour_added, "neighbour_added"},
    {ChangeKind::neighbour_changed, "neighbour_changed"},
    {ChangeKind::neighbour_removed, "neighbour_removed"},
};

}  // namespace

std::string_view to_string(ChangeKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<std::set<ChangeKind>> change_kinds(std::string_view name) {
  std::set<ChangeKind> kinds;
  for (const auto& [k, full] : kKindNames) {
    // A family is the part before the '_': "device" takes device_*.
    if (full == name ||
        (full.size() > name.size() && full.substr(0, name.size()) == name && full[name.size()] == '_')) {
      kinds.insert(k);
    }
  }
  if (kinds.empty()) return std::nullopt;
  return kinds;
}

std::vector<std::string> changed_fields(const Device& before, const Device& after) {
  std::vector<std::string> fields;
  auto check = [&](bool same, const char* name) {
    if (!same) fields.emplace_back(name);
  };
  check(before.ifindex == after.ifindex, "ifindex");
  check(before.name == after.name, "name");
  check(before.kind == after.kind, "kind");
  check(before.mac == after.mac, "mac");
  check(before.mtu == after.mtu, "mtu");
  check(before.up == after.up, "up");
  check(before.operstate == after.operstate, "operstate");
  check(before.carrier == after.carrier, "carrier");
  check(before.master == after.master, "master");
  check(before.peer == after.peer, "peer");
  check(before.lower == after.lower, "lower");
  return fields;
}

bool recorded_in_history(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::route_added:
    case ChangeKind::route_changed:
    case ChangeKind::route_removed:
    case ChangeKind::rule_added:
    case ChangeKind::rule_removed:
    case ChangeKind::neighbour_changed:
      return false;
    default:
      return true;
  }
}

bool in_the_cache(ChangeKind kind) {
  return kind < ChangeKind::route_added;
}

bool ChangeFilter::accepts(const Change& change) const {
  if (!netns.empty() && !netns.count(change.netns)) return false;
  if (kinds.empty()) return in_the_cache(change.kind);
  return kinds.count(change.kind) > 0;
}

struct ChangeFeed::Subscription::State {
  ChangeFilter filter;
  std::size_t queue_cap = 0;
  bool internal = false;
  std::deque<FeedItem> queue;
  std::uint64_t dropped = 0;  // changes not queued since the last gap was reported
  std::condition_variable wake;
};

struct ChangeFeed::Core {
  explicit Core(FeedOptions o) : options(o), seq(o.after_seq) {}
  const FeedOptions options;
  mutable std::mutex mutex;
  std::deque<ChangePtr> history;
  std::vector<std::shared_ptr<Subscription::State>> subscribers;
  std::uint64_t seq;
  bool closed = false;
  FeedStats stats;

  // Queues `change` for `s`, or counts it when the queue is full. A gap is
  // reported where it is: before the first change queued after it.
  void offer(Subscription::State& s, const ChangePtr& change) {
    // netnsd's own subscribers (the journal, the event log) take what is
    // history: a route storm must not fill their queues.
    if (s.internal ? !recorded_in_history(change->kind) : !s.filter.accepts(*change)) return;
    if (s.queue.size() >= s.queue_cap) {
      ++s.dropped;
      ++stats.lost;
      return;
    }
    if (s.dropped) {
      s.queue.push_back({nullptr, s.dropped});
      s.dropped = 0;
    }
    s.queue.push_back({change, 0});
  }
};

ChangeFeed::ChangeFeed(FeedOptions options) : core_(std::make_shared<Core>(options)) {}

ChangeFeed::~ChangeFeed() {
  close();
}

void ChangeFeed::publish(std::vector<Change> changes, WallTime at) {
  if (changes.empty()) return;
  std::lock_guard lock(core_->mutex);
  for (Change& c : changes) {
    c.seq = ++core_->seq;
    c.at = at;
    auto shared = std::make_shared<const Change>(std::move(c));
    if (core_->options.history) {
      if (core_->history.size() >= core_->options.history) core_->history.pop_front();
      core_->history.push_back(shared);
    }
    for (const auto& s : core_->subscribers) core_->offer(*s, shared);
    ++core_->stats.published;
  }
  for (const auto& s : core_->subscribers) {
    if (!s->queue.empty()) s->wake.notify_one();
  }
}

std::unique_ptr<ChangeFeed::Subscription> ChangeFeed::subscribe(ChangeFilter filter,
                                                                std::optional<std::uint64_t> since) {
  std::lock_guard lock(core_->mutex);
  if (core_->closed || core_->stats.subscribers >= core_->options.max_subscribers) {
    ++core_->stats.refused;
    return nullptr;
  }
  auto state = std::make_shared<Subscription::State>();
  state->filter = std::move(filter);
  state->queue_cap = core_->options.queue;
  if (since && *since < core_->seq) {
    // The history holds seq - history.size() + 1 .. seq.
    const std::uint64_t oldest = core_->seq - core_->history.size() + 1;
    if (*since + 1 < oldest) state->queue.push_back({nullptr, oldest - *since - 1});
    for (const ChangePtr& c : core_->history) {
      if (c->seq > *since && state->filter.accepts(*c)) state->queue.push_back({c, 0});
    }
  }
  core_->subscribers.push_back(state);
  ++core_->stats.subscribers;
  return std::unique_ptr<Subscription>(new Subscription(core_, std::move(state)));
}

std::unique_ptr<ChangeFeed::Subscription> ChangeFeed::subscribe_internal(std::size_t queue) {
  std::lock_guard lock(core_->mutex);
  auto state = std::make_shared<Subscription::State>();
  state->queue_cap = queue;
  state->internal = true;
  core_->subscribers.push_back(state);
  return std::unique_ptr<Subscription>(new Subscription(core_, std::move(state)));
}

void ChangeFeed::close() {
  std::lock_guard lock(core_->mutex);
  core_->closed = true;
  for (const auto& s : core_->subscribers) s->wake.notify_all();
}

std::uint64_t ChangeFeed::last_seq() const {
  std::lock_guard lock(core_->mutex);
  return core_->seq;
}

FeedStats ChangeFeed::stats() const {
  std::lock_guard lock(core_->mutex);
  return core_->stats;
}

ChangeFeed::Subscription::Subscription(std::shared_ptr<Core> core, std::shared_ptr<State> state)
    : core_(std::move(core)), state_(std::move(state)) {}

ChangeFeed::Subscription::~Subscription() {
  std::lock_guard lock(core_->mutex);
  auto& list = core_->subscribers;
  list.erase(std::remove(list.begin(), list.end(), state_), list.end());
  if (!state_->internal) --core_->stats.subscribers;
}

std::vector<FeedItem> ChangeFeed::Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(core_->mutex);
  state_->wake.wait_for(lock, timeout, [&] { return core_->closed || !state_->queue.empty() || state_->dropped; });
  std::vector<FeedItem> items(std::make_move_iterator(state_->queue.begin()),
                              std::make_move_iterator(state_->queue.end()));
  state_->queue.clear();
  // Changes were dropped after the last one queued: say so now, not only
  // when the next one arrives.
  if (state_->dropped) {
    items.push_back({nullptr, state_->dropped});
    state_->dropped = 0;
  }
  return items;
}

void ChangeFeed::Subscription::put_back(std::vector<FeedItem> items) {
  std::lock_guard lock(core_->mutex);
  state_->queue.insert(state_->queue.begin(), std::make_move_iterator(items.begin()),
                       std::make_move_iterator(items.end()));
}

bool ChangeFeed::Subscription::closed() const {
  std::lock_guard lock(core_->mutex);
  return core_->closed;
}

}  // namespace netnsd
