#include "history/journal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "dump/event_encoder.h"
#include "history/records.h"
#include "history/schema.h"
#include "history/sqlite.h"

namespace netnsd::history {
namespace {

using namespace std::chrono_literals;

// The key of an address on its device: what the kernel identifies it by.
std::string address_key(const Address& a) {
  std::string key(reinterpret_cast<const char*>(a.local.data()), a.local.size());
  key += static_cast<char>(a.family);
  key += static_cast<char>(a.prefix_len);
  if (a.peer) key.append(reinterpret_cast<const char*>(a.peer->data()), a.peer->size());
  return key;
}

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

struct OpenDevice {
  std::int64_t row = 0;
  std::uint32_t ifindex = 0;
  // A hash of the version recorded (its record, without addresses): the
  // cache's devices are not kept a second time here.
  std::size_t version = 0;
  std::map<std::string, std::int64_t> addresses;
};

struct OpenNamespace {
  std::int64_t row = 0;
  std::int64_t attribution = 0;
  std::map<std::uint32_t, OpenDevice> devices;
};

// A device's recent versions, for the flapping limit.
struct DeviceRate {
  SteadyTime window{};
  int count = 0;
  std::unique_ptr<Change> held;  // the last version not yet recorded
};

// A device's record without its addresses and counters: what a version of
// it is.
std::string bare_record(const Device& d) {
  Device bare = d;
  bare.addresses.clear();
  bare.stats.reset();
  return device_record(bare);
}

}  // namespace

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

struct Journal::Impl {
  Impl(JournalOptions o, const Clock& c) : options(std::move(o)), clock(c) {
    if (options.boot_id.empty()) options.boot_id = read_boot_id();
  }

  JournalOptions options;
  const Clock& clock;

  // Shared with other threads.
  mutable std::mutex mutex;
  JournalStats stats;
  std::atomic<bool> stopping{false};
  mutable std::condition_variable committed;  // after each batch

  // The writer's own (and the constructor's, before the writer starts).
  sql::Connection db;
  struct Statements {
    sql::Statement insert_namespace, close_namespace, insert_attribution, close_attribution, insert_device,
        close_device, insert_address, close_address, insert_change, heartbeat, set_meta;
  } st;
  std::int64_t run = 0;
  std::uint64_t seq = 0;                  // the last recorded
  std::uint64_t seq_offset = 0;           // added to the feed's (see open_late)
  std::int64_t last_written_us = 0;       // the time of the last change or heartbeat committed
  std::optional<std::int64_t> outage_us;  // nothing written since then; a gap to record
  std::string outage_reason;
  std::unordered_map<NetnsId, OpenNamespace> open;
  std::map<std::pair<NetnsId, std::uint32_t>, DeviceRate> rates;
  std::function<std::vector<NamespaceView>()> current;
  std::unique_ptr<ChangeFeed::Subscription> subscription;
  std::thread writer;
  SteadyTime next_retry{};
  SteadyTime next_retention{};

  std::int64_t now_us() const { return to_micros(clock.now()); }

  void set_degraded(std::optional<std::string> reason) {
    std::lock_guard lock(mutex);
    if (reason && !stats.degraded) spdlog::warn("history journal: {}; the live cache goes on", *reason);
    if (!reason && stats.degraded) spdlog::info("history journal: writing again");
    stats.degraded = std::move(reason);
  }

  // --- opening -----------------------------------------------------------

  Status prepare_all() {
    struct Entry {
      sql::Statement* into;
      const char* sql;
    };
    const Entry entries[] = {
        {&st.insert_namespace,
         "INSERT INTO namespaces(boot_id, cookie, inode, owner_uid, owner_userns, owner_host, source, from_us, to_us)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 9223372036854775807)"},
        {&st.close_namespace, "UPDATE namespaces SET to_us = ?2, end_observed = ?3, end_reason = ?4 WHERE id = ?1"},
        {&st.insert_attribution,
         "INSERT INTO attributions(ns, names, containers, lonely_since_us, from_us, processes, to_us)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, 9223372036854775807)"},
        {&st.close_attribution, "UPDATE attributions SET to_us = ?2 WHERE id = ?1"},
        {&st.insert_device,
         "INSERT INTO devices(ns, ifindex, name, mac, body, from_us, to_us)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, 9223372036854775807)"},
        {&st.close_device, "UPDATE devices SET to_us = ?2 WHERE id = ?1"},
        {&st.insert_address,
         "INSERT INTO addresses(ns, ifindex, address, body, from_us, to_us, from_seq)"
         " VALUES(?1, ?2, ?3, ?4, ?5, 9223372036854775807, ?6)"},
        {&st.close_address, "UPDATE addresses SET to_us = ?2, to_seq = ?3 WHERE id = ?1"},
        {&st.insert_change,
         "INSERT INTO changes(seq, at_us, ns, kind, device, address, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&st.heartbeat, "UPDATE runs SET seen_us = ?2 WHERE id = ?1"},
        {&st.set_meta, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"},
    };
    for (const Entry& e : entries) {
      auto s = db.prepare(e.sql);
      if (!s) return s.error();
      *e.into = std::move(*s);
    }
    return {};
  }

  // The directory (0700) and the file (0600), made before SQLite makes them
  // with the umask's modes.
  Status make_files() {
    const std::filesystem::path file(options.path);
    std::error_code ec;
    if (file.has_parent_path() && !std::filesystem::exists(file.parent_path(), ec)) {
      std::filesystem::create_directories(file.parent_path(), ec);
      if (ec) return Error{ec.value(), "create " + file.parent_path().string()};
      ::chmod(file.parent_path().c_str(), 0700);
    }
    const int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Error::os("open " + options.path);
    ::fchmod(fd, 0600);
    ::close(fd);
    return {};
  }

  // Opens and migrates; records the gap since the last run and this run.
  Status open_db() {
    if (Status made = make_files(); !made) return made;
    auto c =
        sql::Connection::open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, defaults::kJournalBusyWait);
    if (!c) return c.error();
    db = std::move(*c);
    // auto_vacuum takes effect only before the first table is made.
    const std::int64_t page = 4096;
    const std::int64_t wal_pages = std::max<std::int64_t>(16, static_cast<std::int64_t>(options.max_bytes) / page / 16);
    const std::string pragmas =
        "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; "
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -" +
        std::to_string(defaults::kJournalWriterCacheKiB) +
        "; PRAGMA wal_autocheckpoint = " + std::to_string(wal_pages) +
        "; PRAGMA journal_size_limit = " + std::to_string(wal_pages * page) + ";";
    if (Status s = db.exec(pragmas); !s) return s;
    // A database made without it (by hand, or by another tool) gets it once.
    auto vacuum = db.scalar("PRAGMA auto_vacuum");
    if (vacuum && *vacuum != 2) (void)db.exec("VACUUM");
    if (Status s = migrate(db); !s) return s;
    if (Status s = prepare_all(); !s) return s;
    return record_start();
  }

  Status record_start() {
    const std::int64_t now = now_us();
    if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return s;
    auto done = [&](Status s) {
      if (!s) (void)db.exec("ROLLBACK");
      return s;
    };
    auto last = db.prepare(
        "SELECT id, seen_us, stopped_us, (SELECT max(at_us) FROM changes) FROM runs ORDER BY id DESC LIMIT 1");
    if (!last) return done(last.error());
    auto row = last->step();
    if (!row) return done(row.error());
    if (*row) {
      // Nothing was observed from the last run's end to now.
      const std::optional<std::int64_t> stopped = last->maybe_integer(2);
      const std::int64_t seen = std::max(last->integer(1), last->maybe_integer(3).value_or(0));
      const std::int64_t from = stopped ? *stopped : seen;
      if (Status s = close_everything(from, stopped ? "stopped" : "crashed"); !s) return done(s);
      if (Status s = insert_gap(from, now, stopped ? "stopped" : "crashed"); !s) return done(s);
    } else {
      st.set_meta.bind(1, "retained_from_us").bind(2, now);
      if (Status s = st.set_meta.run(); !s) return done(s);
    }
    last = sql::Statement();
    auto insert = db.prepare("INSERT INTO runs(boot_id, version, started_us, seen_us) VALUES(?1, ?2, ?3, ?3)");
    if (!insert) return done(insert.error());
    insert->bind(1, options.boot_id).bind(2, options.version).bind(3, now);
    if (Status s = insert->run(); !s) return done(s);
    run = sqlite3_last_insert_rowid(db.get());
    auto seq_row = db.scalar(
        "SELECT max(coalesce((SELECT max(seq) FROM changes), 0), coalesce((SELECT value FROM meta WHERE key = "
        "'last_seq'), 0))");
    if (!seq_row) return done(seq_row.error());
    seq = static_cast<std::uint64_t>(*seq_row);
    last_written_us = now;
    if (Status s = db.exec("COMMIT"); !s) return done(s);
    std::lock_guard lock(mutex);
    stats.last_seq = seq;
    return {};
  }

  Status insert_gap(std::int64_t from, std::int64_t to, const std::string& reason) {
    auto gap = db.prepare("INSERT INTO gaps(from_us, to_us, reason) VALUES(?1, ?2, ?3)");
    if (!gap) return gap.error();
    gap->bind(1, from).bind(2, std::max(from, to)).bind(3, reason);
    return gap->run();
  }

  // Everything still open ends at `at`, unobserved: what happened to it
  // after that nobody saw.
  Status close_everything(std::int64_t at, const std::string& reason) {
    open.clear();
    rates.clear();
    auto ns = db.prepare(
        "UPDATE namespaces SET to_us = ?1, end_observed = 0, end_reason = ?2 WHERE to_us = 9223372036854775807");
    if (!ns) return ns.error();
    ns->bind(1, at).bind(2, reason);
    if (Status s = ns->run(); !s) return s;
    for (const char* table : {"attributions", "devices", "addresses"}) {
      auto close = db.prepare(std::string("UPDATE ") + table + " SET to_us = ?1 WHERE to_us = 9223372036854775807");
      if (!close) return close.error();
      close->bind(1, at);
      if (Status s = close->run(); !s) return s;
    }
    return {};
  }

  // --- recording ---------------------------------------------------------

  Status open_namespace(NetnsId netns, std::uint64_t cookie, const NamespaceOwner& owner, Source source,
                        std::int64_t at) {
    st.insert_namespace.bind(1, options.boot_id)
        .bind(2, cookie)
        .bind(3, netns)
        .bind(4, owner.uid)
        .bind(5, owner.userns)
        .bind(6, owner.host ? 1 : 0)
        .bind(7, to_string(source))
        .bind(8, at);
    if (Status s = st.insert_namespace.run(); !s) return s;
    open[netns].row = sqlite3_last_insert_rowid(db.get());
    return {};
  }

  Status open_attribution(OpenNamespace& ns, const std::vector<std::string>& names,
                          const std::vector<ContainerRef>& containers, const std::vector<ProcessInfo>& processes,
                          std::optional<WallTime> lonely, std::int64_t at) {
    st.insert_attribution.bind(1, ns.row)
        .bind(2, names_record(names))
        .bind(3, containers_record(containers))
        .bind(5, at)
        .bind(6, processes_record(processes));
    if (lonely) st.insert_attribution.bind(4, to_micros(*lonely));
    if (Status s = st.insert_attribution.run(); !s) return s;
    ns.attribution = sqlite3_last_insert_rowid(db.get());
    return {};
  }

  Status close_row(sql::Statement& close, std::int64_t row, std::int64_t at) {
    close.bind(1, row).bind(2, at);
    return close.run();
  }

  Status open_address(OpenNamespace& ns, NetnsId, OpenDevice& dev, const Address& a, std::int64_t at,
                      std::uint64_t seq_no) {
    st.insert_address.bind(1, ns.row)
        .bind(2, dev.ifindex)
        .bind(3, address_text(a))
        .bind(4, address_record(a))
        .bind(5, at)
        .bind(6, seq_no);
    if (Status s = st.insert_address.run(); !s) return s;
    dev.addresses[address_key(a)] = sqlite3_last_insert_rowid(db.get());
    return {};
  }

  Status close_address(std::int64_t row, std::int64_t at, std::uint64_t seq_no) {
    st.close_address.bind(1, row).bind(2, at).bind(3, seq_no);
    return st.close_address.run();
  }

  Status open_device(OpenNamespace& ns, NetnsId netns, const Device& d, std::int64_t at, std::uint64_t seq_no,
                     bool with_addresses) {
    const std::string record = bare_record(d);
    st.insert_device.bind(1, ns.row).bind(2, d.ifindex).bind(4, d.mac).bind(5, record).bind(6, at);
    st.insert_device.bind_blob(3, d.name.data(), d.name.size());
    if (Status s = st.insert_device.run(); !s) return s;
    OpenDevice& dev = ns.devices[d.ifindex];
    dev.row = sqlite3_last_insert_rowid(db.get());
    dev.ifindex = d.ifindex;
    dev.version = std::hash<std::string>{}(record);
    if (with_addresses) {
      for (const Address& a : d.addresses) {
        if (Status s = open_address(ns, netns, dev, a, at, seq_no); !s) return s;
      }
    }
    return {};
  }

  Status close_device(OpenNamespace& ns, std::uint32_t ifindex, std::int64_t at, std::uint64_t seq_no) {
    auto it = ns.devices.find(ifindex);
    if (it == ns.devices.end()) return {};
    for (const auto& [key, row] : it->second.addresses) {
      if (Status s = close_address(row, at, seq_no); !s) return s;
    }
    if (Status s = close_row(st.close_device, it->second.row, at); !s) return s;
    ns.devices.erase(it);
    return {};
  }

  Status close_namespace(NetnsId netns, std::int64_t at, std::uint64_t seq_no, bool observed,
                         const std::string& reason) {
    auto it = open.find(netns);
    if (it == open.end()) return {};
    OpenNamespace& ns = it->second;
    while (!ns.devices.empty()) {
      if (Status s = close_device(ns, ns.devices.begin()->first, at, seq_no); !s) return s;
    }
    if (ns.attribution) {
      if (Status s = close_row(st.close_attribution, ns.attribution, at); !s) return s;
    }
    st.close_namespace.bind(1, ns.row).bind(2, at).bind(3, observed ? 1 : 0).bind(4, reason);
    if (Status s = st.close_namespace.run(); !s) return s;
    open.erase(it);
    for (auto r = rates.lower_bound({netns, 0}); r != rates.end() && r->first.first == netns;) r = rates.erase(r);
    return {};
  }

  // One change into the intervals. Idempotent: after a resync from the
  // cache, a change that is already true changes nothing.
  Status apply(const Change& c, std::int64_t at) {
    auto ns_it = open.find(c.netns);
    switch (c.kind) {
      case ChangeKind::netns_added: {
        if (ns_it != open.end()) return {};
        if (Status s = open_namespace(c.netns, c.cookie, c.owner, c.source, at); !s) return s;
        return open_attribution(open[c.netns], c.names, c.containers, c.processes, c.lonely_since, at);
      }
      case ChangeKind::netns_changed: {
        if (ns_it == open.end()) return {};
        if (ns_it->second.attribution) {
          if (Status s = close_row(st.close_attribution, ns_it->second.attribution, at); !s) return s;
        }
        return open_attribution(ns_it->second, c.names, c.containers, c.processes, c.lonely_since, at);
      }
      case ChangeKind::netns_removed:
        return close_namespace(c.netns, at, c.seq, c.reason != "evicted", c.reason);
      default:
        break;
    }
    if (ns_it == open.end()) return {};  // a namespace the journal does not have open: nothing to attach it to
    OpenNamespace& ns = ns_it->second;
    const std::uint32_t ifindex = c.device ? c.device->ifindex : c.ifindex;
    switch (c.kind) {
      case ChangeKind::device_added:
      case ChangeKind::device_changed: {
        auto dev = ns.devices.find(ifindex);
        if (dev == ns.devices.end()) return open_device(ns, c.netns, *c.device, at, c.seq, true);
        if (std::hash<std::string>{}(bare_record(*c.device)) == dev->second.version) return {};
        // A new version of the device; its addresses stay as they are.
        auto addresses = std::move(dev->second.addresses);
        if (Status s = close_row(st.close_device, dev->second.row, at); !s) return s;
        if (Status s = open_device(ns, c.netns, *c.device, at, c.seq, false); !s) return s;
        ns.devices[ifindex].addresses = std::move(addresses);
        return {};
      }
      case ChangeKind::device_removed:
        rates.erase({c.netns, ifindex});
        return close_device(ns, ifindex, at, c.seq);
      case ChangeKind::address_added:
      case ChangeKind::address_changed:
      case ChangeKind::address_removed: {
        auto dev = ns.devices.find(ifindex);
        if (dev == ns.devices.end() || !c.address) return {};
        const std::string key = address_key(*c.address);
        auto held = dev->second.addresses.find(key);
        if (held != dev->second.addresses.end()) {
          if (Status s = close_address(held->second, at, c.seq); !s) return s;
          dev->second.addresses.erase(held);
        }
        if (c.kind == ChangeKind::address_removed) return {};
        return open_address(ns, c.netns, dev->second, *c.address, at, c.seq);
      }
      default:
        return {};
    }
  }

  Status log_change(const Change& c, std::int64_t at) {
    auto ns_it = open.find(c.netns);
    st.insert_change.bind(1, c.seq).bind(2, at).bind(4, to_string(c.kind));
    std::string body = change_to_ndjson(c);
    while (!body.empty() && body.back() == '\n') body.pop_back();
    st.insert_change.bind(7, body);
    if (ns_it != open.end()) st.insert_change.bind(3, ns_it->second.row);
    // A neighbour appearing or vanishing is found by its address and device
    // like an address of the host's own.
    const std::string& device = c.device                                 ? c.device->name
                                : c.neighbour && !c.device_names.empty() ? c.device_names.front().second
                                                                         : c.device_name;
    if (!device.empty()) st.insert_change.bind_blob(5, device.data(), device.size());
    if (c.address) st.insert_change.bind(6, address_text(*c.address));
    if (c.neighbour) st.insert_change.bind(6, ip_text(c.neighbour->family, c.neighbour->dst));
    return st.insert_change.run();
  }

  // The flapping limit: true when this version is recorded now; false when
  // it is held (and counted).
  bool admit(const Change& c, SteadyTime now) {
    if (c.kind != ChangeKind::device_changed || !c.device) return true;
    DeviceRate& r = rates[{c.netns, c.device->ifindex}];
    if (now - r.window >= 1min) {
      r.window = now;
      r.count = 0;
    }
    if (r.count < options.device_changes_per_minute) {
      ++r.count;
      r.held.reset();
      return true;
    }
    r.held = std::make_unique<Change>(c);
    std::lock_guard lock(mutex);
    ++stats.rate_limited;
    return false;
  }

  // Held versions whose minute has passed are recorded, at their own time.
  // A device quiet for a minute is forgotten.
  Status release_held(SteadyTime now) {
    for (auto it = rates.begin(); it != rates.end();) {
      DeviceRate& r = it->second;
      if (now - r.window < 1min) {
        ++it;
        continue;
      }
      if (!r.held) {
        it = rates.erase(it);
        continue;
      }
      r.window = now;
      r.count = 1;
      const Change c = std::move(*r.held);
      r.held.reset();
      if (Status s = apply(c, to_micros(c.at)); !s) return s;
      ++it;
    }
    return {};
  }

  // The cache as it is now, recorded from `at` (after a gap of the journal's own).
  Status record_current(std::int64_t at) {
    if (!current) return {};
    for (const NamespaceView& v : current()) {
      const std::uint64_t cookie = v.handle ? v.handle->cookie : 0;
      const NamespaceOwner owner = v.handle ? v.handle->owner : NamespaceOwner{};
      if (Status s = open_namespace(v.netns, cookie, owner, v.discovered_by, at); !s) return s;
      OpenNamespace& ns = open[v.netns];
      if (Status s = open_attribution(ns, v.names, v.containers, v.processes, v.lonely_since, at); !s) return s;
      for (const Device& d : v.devices) {
        if (Status s = open_device(ns, v.netns, d, at, 0, true); !s) return s;
      }
    }
    return {};
  }

  // --- the writer --------------------------------------------------------

  // One transaction: the outage being closed (if any), the changes, the
  // heartbeat. On failure everything in it is counted as lost.
  void write_batch(std::vector<FeedItem>& items) {
    const SteadyTime steady = clock.steady();
    if (!db) {
      if (steady < next_retry) return lose(items);
      next_retry = steady + options.retry;
      if (Status s = open_db(); !s) {
        db = sql::Connection();
        set_degraded(s.error().message());
        return lose(items);
      }
      // Opened late: numbers the feed gave out meanwhile must not go back.
      seq_offset = seq > 0 ? seq : 0;
      outage_us = outage_us.value_or(last_written_us);
      outage_reason = "unwritable";
    } else if (outage_us && steady < next_retry) {
      return lose(items);
    }
    const auto started = std::chrono::steady_clock::now();
    const std::int64_t now = now_us();
    std::size_t written = 0;
    Status s = db.exec("BEGIN IMMEDIATE");
    if (s && outage_us) {
      // The journal's own gap: what was open ends where it began, and the
      // cache as it is now starts again.
      s = close_everything(*outage_us, outage_reason);
      if (s) s = insert_gap(*outage_us, now, outage_reason);
      if (s) s = record_current(now);
    }
    std::uint64_t top = seq;
    for (FeedItem& item : items) {
      if (!s) break;
      if (!item.change) {
        // The queue overflowed: what was lost is a gap, and the cache is
        // recorded again as it is now.
        {
          std::lock_guard lock(mutex);
          stats.lost += item.lost;
        }
        s = close_everything(last_written_us, "behind");
        if (s) s = insert_gap(last_written_us, now, "behind");
        if (s) s = record_current(now);
        continue;
      }
      Change c = *item.change;
      c.seq += seq_offset;
      if (c.seq <= top) continue;  // recorded before a restart of the writer
      const std::int64_t at = to_micros(c.at);
      top = c.seq;
      if (!admit(c, steady)) continue;
      if (c.kind == ChangeKind::netns_added) s = apply(c, at);
      if (s) s = log_change(c, at);
      if (s && c.kind != ChangeKind::netns_added) s = apply(c, at);
      last_written_us = std::max(last_written_us, at);
      ++written;
    }
    if (s) s = release_held(steady);
    if (s) {
      st.heartbeat.bind(1, run).bind(2, now);
      s = st.heartbeat.run();
    }
    if (s && top != seq) {
      st.set_meta.bind(1, "last_seq").bind(2, top);
      s = st.set_meta.run();
    }
    if (s) s = db.exec("COMMIT");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!s) {
      (void)db.exec("ROLLBACK");
      // What the memory says is open no longer matches the database: the
      // recovery closes everything and records the cache again.
      open.clear();
      rates.clear();
      if (!outage_us) {
        outage_us = last_written_us;
        outage_reason = "unwritable";
      }
      next_retry = steady + options.retry;
      {
        std::lock_guard lock(mutex);
        ++stats.write_errors;
        stats.write_seconds += seconds;
      }
      set_degraded("cannot write " + options.path + ": " + s.error().message());
      return lose(items);
    }
    seq = top;
    last_written_us = std::max(last_written_us, now);
    outage_us.reset();
    set_degraded(std::nullopt);
    {
      std::lock_guard lock(mutex);
      stats.written += written;
      ++stats.batches;
      stats.write_seconds += seconds;
      stats.last_seq = seq;
    }
    committed.notify_all();
  }

  void lose(const std::vector<FeedItem>& items) {
    std::uint64_t n = 0;
    for (const FeedItem& item : items) n += item.change ? 1 : item.lost;
    std::lock_guard lock(mutex);
    stats.lost += n;
  }

  std::uint64_t size_on_disk() const {
    return file_size(options.path) + file_size(options.path + "-wal") + file_size(options.path + "-shm");
  }

  // Removes what is older than `cut` (microseconds): changes before it,
  // intervals that ended by then, gaps that ended by then.
  Status remove_before(std::int64_t cut) {
    if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return s;
    Status s;
    for (const char* sql : {"DELETE FROM changes WHERE at_us < ?1", "DELETE FROM addresses WHERE to_us <= ?1",
                            "DELETE FROM devices WHERE to_us <= ?1", "DELETE FROM attributions WHERE to_us <= ?1",
                            "DELETE FROM namespaces WHERE to_us <= ?1", "DELETE FROM gaps WHERE to_us <= ?1",
                            "UPDATE meta SET value = max(value, ?1) WHERE key = 'retained_from_us'"}) {
      auto del = db.prepare(sql);
      if (!del) {
        s = del.error();
        break;
      }
      del->bind(1, cut);
      if (s = del->run(); !s) break;
    }
    if (!s) {
      (void)db.exec("ROLLBACK");
      return s;
    }
    if (s = db.exec("COMMIT"); !s) return s;
    (void)db.exec("PRAGMA incremental_vacuum");
    (void)db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    std::lock_guard lock(mutex);
    ++stats.retention_runs;
    return {};
  }

  // Past this much of the cap, retention runs; it stops below the second:
  // the room between is for the next batch and for what a deletion itself
  // writes to the WAL before the checkpoint folds it back.
  std::uint64_t retention_start() const { return options.max_bytes / 8 * 7; }
  std::uint64_t retention_target() const { return options.max_bytes / 4 * 3; }

  // Age first, then size: the oldest sixteenth of the changes at a time
  // (each deletion small, so its WAL frames stay small), never what is
  // still open (the newest).
  void enforce_retention() {
    if (!db || outage_us) return;
    const std::int64_t now = now_us();
    const std::int64_t age_cut = now - std::chrono::duration_cast<std::chrono::microseconds>(options.max_age).count();
    auto retained = db.scalar("SELECT value FROM meta WHERE key = 'retained_from_us'");
    if (retained && *retained < age_cut) (void)remove_before(age_cut);
    std::uint64_t size = size_on_disk();
    for (int round = 0; size > (round == 0 ? retention_start() : retention_target()) && round < 48; ++round) {
      auto count = db.scalar("SELECT count(*) FROM changes");
      if (!count || *count == 0) break;
      auto cut = db.prepare("SELECT at_us FROM changes ORDER BY seq LIMIT 1 OFFSET ?1");
      if (!cut) break;
      cut->bind(1, std::max<std::int64_t>(1, *count / 16));
      auto row = cut->step();
      if (!row) break;
      const std::int64_t at = *row ? cut->integer(0) + 1 : now;
      cut = sql::Statement();
      if (!remove_before(at)) break;
      size = size_on_disk();
    }
    std::lock_guard lock(mutex);
    stats.bytes = size;
  }

  void run_writer() {
    // Background work: on a busy machine the event thread, the API and the
    // probes go first (nice 10 has about a tenth of the CPU share of nice
    // 0); the queue holds what waits meanwhile.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), defaults::kJournalNice);
    std::vector<FeedItem> pending;
    SteadyTime last_commit = clock.steady();
    for (;;) {
      const bool done = stopping.load();
      auto items = subscription->next(done ? 0ms : options.flush_period);
      if (items.empty() && !done && subscription->closed()) std::this_thread::sleep_for(options.flush_period);
      std::move(items.begin(), items.end(), std::back_inserter(pending));
      const SteadyTime now = clock.steady();
      const bool due = (!pending.empty() && now - last_commit >= options.flush_period) ||
                       now - last_commit >= options.heartbeat || pending.size() >= options.batch || done;
      if (due) {
        while (!pending.empty() || now - last_commit >= options.heartbeat || done) {
          const std::size_t n = std::min(pending.size(), options.batch);
          std::vector<FeedItem> batch(std::make_move_iterator(pending.begin()),
                                      std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(n)));
          pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
          write_batch(batch);
          last_commit = clock.steady();
          if (pending.empty()) break;
        }
        if (now >= next_retention || size_on_disk() > retention_start()) {
          enforce_retention();
          next_retention = now + 5s;
        }
      }
      if (done && pending.empty()) break;
    }
  }

  void record_stop() {
    if (!db || outage_us) return;
    auto stop = db.prepare("UPDATE runs SET seen_us = ?2, stopped_us = ?2 WHERE id = ?1");
    if (!stop) return;
    stop->bind(1, run).bind(2, now_us());
    (void)stop->run();
    (void)db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
};

Journal::Journal(JournalOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), clock)) {
  if (Status s = impl_->open_db(); !s) {
    impl_->db = sql::Connection();
    impl_->outage_us = impl_->now_us();
    impl_->outage_reason = "unwritable";
    impl_->set_degraded(s.error().message());
  } else {
    impl_->enforce_retention();
  }
}

Journal::~Journal() {
  stop();
}

std::uint64_t Journal::last_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats.last_seq;
}

void Journal::start(ChangeFeed& feed, std::function<std::vector<NamespaceView>()> current) {
  impl_->current = std::move(current);
  impl_->subscription = feed.subscribe_internal(impl_->options.queue);
  impl_->writer = std::thread([this] { impl_->run_writer(); });
}

void Journal::stop() {
  if (!impl_->writer.joinable()) return;
  impl_->stopping = true;
  impl_->writer.join();
  impl_->record_stop();
  impl_->subscription.reset();
}

JournalStats Journal::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

bool Journal::wait_written(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->committed.wait_for(lock, timeout, [&] { return impl_->stats.last_seq >= seq; });
}

const JournalOptions& Journal::options() const {
  return impl_->options;
}

}  // namespace netnsd::history
