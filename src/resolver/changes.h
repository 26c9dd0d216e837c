// Changes: what the cache applies, one record per change, for those who
// follow it live (GET /v1/events).
//
// The resolver publishes each change while it holds its own lock, so the
// sequence numbers follow the order the cache saw; publishing only copies
// pointers into bounded queues (no I/O, no encoding). Subscribers read on
// their own threads. A subscriber that falls behind loses changes, never
// slows the cache: past its queue's bound, changes are counted instead, and
// it reads one `lost` item with the count where the gap is.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/model.h"
#include "resolver/routing.h"
#include "util/clock.h"
#include "util/defaults.h"

namespace netnsd {

enum class ChangeKind : std::uint8_t {
  netns_added,
  netns_changed,  // bind-mount names, the containers behind it, or lonely (no task or mount holds it)
  netns_removed,
  device_added,
  device_changed,
  device_removed,
  address_added,
  address_changed,  // flags or scope (DAD done, deprecated, ...)
  address_removed,
  // Beside the cache (resolver/facts.h): routes, policy rules, neighbours,
  // only to subscribers that ask for them by type. A neighbour's state
  // flaps constantly on a busy host: neither neighbour_changed nor the
  // route and rule changes are recorded in the journal or event log.
  // (in_the_cache relies on these coming last.)
  route_added,
  route_changed,
  route_removed,
  rule_added,
  rule_removed,
  neighbour_added,
  neighbour_changed,
  neighbour_removed,
};
std::string_view to_string(ChangeKind kind);
// "device_added", or a family: "netns", "device", "address".
std::optional<std::set<ChangeKind>> change_kinds(std::string_view name);
// Whether the history journal and the event log record changes of this
// kind: not routes and rules (the kernel's tables, kept live but not
// history), not a neighbour's state changes (only its appearing and
// vanishing).
bool recorded_in_history(ChangeKind kind);

struct Change {
  std::uint64_t seq = 0;  // from 1, set by the feed
  WallTime at;            // when the cache applied it
  ChangeKind kind = ChangeKind::netns_added;
  NetnsId netns = 0;
  // netns_*: its names, how it was found, its processes and the containers
  // behind them; netns_changed: what changed ("names", "containers",
  // "processes", "lonely"); netns_removed: why ("released": lonely for the lonely
  // timeout; "evicted": room was needed).
  std::vector<std::string> names;
  Source source = Source::procfs;
  std::optional<WallTime> lonely_since;
  std::vector<ContainerRef> containers;
  std::vector<ProcessInfo> processes;  // the first of them (lowest pids), as the cache lists them
  std::string reason;
  // netns_added: who owns it and its cookie (NamespaceHandle), what the
  // history keys it by.
  NamespaceOwner owner;
  std::uint64_t cookie = 0;
  // device_*: the device as it now is (added, changed) or last was
  // (removed); device_changed: as it was, and the names of the fields that
  // differ; device_removed: where the kernel said it went (nsid as seen
  // from this namespace, its new ifindex, and that namespace's inode when
  // netnsd holds it), when it moved.
  std::optional<Device> device;
  std::optional<Device> old;
  std::vector<std::string> changed;
  std::optional<LinkRef> moved_to;
  // address_*: the address, on device `ifindex` called `device_name`.
  std::uint32_t ifindex = 0;
  std::string device_name;
  std::optional<Address> address;
  // route_*, rule_*, neighbour_*: the fact as it now is (or last was), and
  // the names of the devices it names, as the cache knows them.
  std::optional<Route> route;
  std::optional<Rule> rule;
  std::optional<Neighbour> neighbour;
  std::vector<std::pair<std::uint32_t, std::string>> device_names;
};
using ChangePtr = std::shared_ptr<const Change>;

// The fields in which two versions of a device differ ("name", "mtu",
// "peer", ...), addresses and counters aside (they have events of their own,
// or none).
std::vector<std::string> changed_fields(const Device& before, const Device& after);

// Which changes a subscriber wants. An empty set of kinds takes what is in
// the cache (namespaces, devices, addresses: the stream as it always was);
// routes, rules and neighbours come to those that ask for them by type
// (a route storm, or every address's local routes, would drown the rest;
// and a neighbour's state flaps constantly).
bool in_the_cache(ChangeKind kind);
struct ChangeFilter {
  std::set<NetnsId> netns;
  std::set<ChangeKind> kinds;
  bool accepts(const Change& change) const;
};

// What a subscriber reads: a change, or a gap of `lost` changes it could
// not keep up with (or that had left the history when it asked for them).
struct FeedItem {
  ChangePtr change;
  std::uint64_t lost = 0;
};

struct FeedOptions {
  // Sequence numbers continue after this one (the journal's last: they never
  // start again at 1 on a restart).
  std::uint64_t after_seq = 0;
  std::size_t queue = defaults::kEventQueue;  // changes held per subscriber
  std::size_t history = defaults::kEventHistory;
  std::size_t max_subscribers = defaults::kMaxEventSubscribers;
};

struct FeedStats {
  std::uint64_t published = 0;
  std::uint64_t lost = 0;     // by slow subscribers, summed
  std::uint64_t refused = 0;  // subscriptions past the cap
  std::size_t subscribers = 0;
};

// Threading: everything is safe from any thread. publish() is meant to be
// called with the resolver's lock held; the feed never calls back.
class ChangeFeed {
  struct Core;

 public:
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    // What arrived since the last call, waiting up to `timeout` for
    // something; empty on timeout or once the feed is closed.
    std::vector<FeedItem> next(std::chrono::milliseconds timeout);
    // Returns what next() gave, to be read first next time.
    void put_back(std::vector<FeedItem> items);
    bool closed() const;

   private:
    friend class ChangeFeed;
    struct State;
    Subscription(std::shared_ptr<Core> core, std::shared_ptr<State> state);
    std::shared_ptr<Core> core_;
    std::shared_ptr<State> state_;
  };

  explicit ChangeFeed(FeedOptions options = {});
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Numbers and stamps the changes, keeps them in the history and hands them
  // to every subscriber whose filter takes them.
  void publish(std::vector<Change> changes, WallTime at);
  // Null when max_subscribers are subscribed. With `since`, first the
  // changes after that sequence number still in the history (a `lost` item
  // first when some have left it).
  std::unique_ptr<Subscription> subscribe(ChangeFilter filter, std::optional<std::uint64_t> since = std::nullopt);
  // netnsd's own subscribers (the journal, the event log): every change
  // recorded_in_history, a queue of its own size, and not counted against
  // max_subscribers.
  std::unique_ptr<Subscription> subscribe_internal(std::size_t queue);
  // Ends every subscription (next() returns at once, closed() is true).
  void close();
  // The last sequence number handed out (0 before the first change).
  std::uint64_t last_seq() const;
  FeedStats stats() const;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace netnsd
