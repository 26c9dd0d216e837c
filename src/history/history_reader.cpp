#include "history/history_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "history/records.h"
#include "history/schema.h"
#include "history/sqlite.h"
#include "util/defaults.h"

namespace netnsd::history {
namespace {

// A read transaction that ends with its scope, whatever happens.
class ReadTransaction {
 public:
  explicit ReadTransaction(sql::Connection& db) : db_(db) { ok_ = static_cast<bool>(db_.exec("BEGIN")); }
  ~ReadTransaction() { (void)db_.exec("COMMIT"); }
  bool ok() const { return ok_; }

 private:
  sql::Connection& db_;
  bool ok_ = false;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct HistoryReader::Impl {
  explicit Impl(std::string p) : path(std::move(p)) {}
  const std::string path;
  std::mutex mutex;
  std::vector<sql::Connection> idle;

  // A connection for one question, returned to the pool after it.
  class Lease {
   public:
    Lease(Impl& impl, sql::Connection c) : impl_(impl), c_(std::move(c)) {}
    ~Lease() {
      std::lock_guard lock(impl_.mutex);
      if (impl_.idle.size() < defaults::kHistoryReaders) impl_.idle.push_back(std::move(c_));
    }
    sql::Connection& db() { return c_; }

   private:
    Impl& impl_;
    sql::Connection c_;
  };

  Result<std::unique_ptr<Lease>> lease() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return std::make_unique<Lease>(*this, std::move(c));
      }
    }
    auto c = sql::Connection::open(path, SQLITE_OPEN_READONLY, defaults::kJournalBusyWait);
    if (!c) return c.error();
    // SQLite's default page cache is 2 MiB per connection; the kernel's
    // page cache has the pages anyway.
    if (Status s = c->exec("PRAGMA cache_size = -" + std::to_string(defaults::kJournalReaderCacheKiB)); !s) {
      return s.error();
    }
    auto version = c->scalar("PRAGMA user_version");
    if (!version) return version.error();
    if (*version != schema_version()) {
      return Error::logic("the journal has schema version " + std::to_string(*version) + ", not " +
                          std::to_string(schema_version()));
    }
    return std::make_unique<Lease>(*this, std::move(*c));
  }

  static Result<std::optional<Gap>> gap_at(sql::Connection& db, std::int64_t t) {
    auto q = db.prepare(
        "SELECT from_us, to_us, reason FROM gaps WHERE to_us > ?1 AND from_us <= ?1 ORDER BY from_us DESC LIMIT 1");
    if (!q) return q.error();
    q->bind(1, t);
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) return std::optional<Gap>();
    return std::optional<Gap>(Gap{from_micros(q->integer(0)), from_micros(q->integer(1)), q->text(2)});
  }

  // Columns from `first` on: names, containers, lonely_since_us, processes
  // (NULL in rows of schema version 1: none known).
  static void attribute(NamespaceView& v, sql::Statement& r, int first) {
    v.names = names_from_record(r.text(first));
    v.containers = containers_from_record(r.text(first + 1));
    if (auto lonely = r.maybe_integer(first + 2)) v.lonely_since = from_micros(*lonely);
    v.processes = processes_from_record(r.text(first + 3), v.containers);
  }
  // Column `first`: a device's record.
  static void add_device(NamespaceView& v, sql::Statement& r, int first) {
    if (auto device = device_from_record(r.text(first))) v.devices.push_back(std::move(*device));
  }
  // Columns from `first` on: ifindex, an address's record.
  static void add_address(NamespaceView& v, sql::Statement& r, int first) {
    const auto ifindex = static_cast<std::uint32_t>(r.integer(first));
    auto address = address_from_record(r.text(first + 1));
    auto dev = std::find_if(v.devices.begin(), v.devices.end(), [&](const Device& d) { return d.ifindex == ifindex; });
    if (address && dev != v.devices.end()) dev->addresses.push_back(std::move(*address));
  }
  // Runs `q` (bound: ?1 a namespace row, ?2 the instant) and hands each row to `fn`.
  template <class F>
  static Status rows_of(sql::Statement& q, std::int64_t id, std::int64_t t, F fn) {
    q.bind(1, id).bind(2, t);
    for (;;) {
      auto row = q.step();
      if (!row) {
        q.reset();
        return row.error();
      }
      if (!*row) break;
      fn(q);
    }
    q.reset();
    return {};
  }

  // The namespaces open at t, each with its attribution, devices and addresses.
  static Result<std::vector<NamespaceView>> views_at(sql::Connection& db, std::int64_t t,
                                                     const std::optional<std::vector<NetnsId>>& only,
                                                     const std::map<NetnsId, std::vector<std::uint32_t>>& some) {
    // A few by inode (the inode index), or all of them (the to_us index).
    auto ns = db.prepare(only ? "SELECT id, cookie, inode, owner_uid, owner_userns, owner_host, source, from_us FROM"
                                " namespaces WHERE inode IN (SELECT value FROM json_each(?2)) AND to_us > ?1 AND"
                                " from_us <= ?1 ORDER BY inode"
                              : "SELECT id, cookie, inode, owner_uid, owner_userns, owner_host, source, from_us FROM"
                                " namespaces WHERE to_us > ?1 AND from_us <= ?1 ORDER BY inode");
    auto attribution = db.prepare(
        "SELECT names, containers, lonely_since_us, processes FROM attributions WHERE ns = ?1 AND to_us > ?2 AND "
        "from_us <= ?2"
        " ORDER BY from_us DESC LIMIT 1");
    auto devices =
        db.prepare("SELECT body FROM devices WHERE ns = ?1 AND to_us > ?2 AND from_us <= ?2 ORDER BY ifindex");
    auto addresses = db.prepare("SELECT ifindex, body FROM addresses WHERE ns = ?1 AND to_us > ?2 AND from_us <= ?2");
    // Some devices of a namespace (a whois's ends): only their records are read.
    auto some_devices = db.prepare(
        "SELECT body FROM devices WHERE ns = ?1 AND to_us > ?2 AND from_us <= ?2 AND ifindex IN (SELECT value FROM"
        " json_each(?3)) ORDER BY ifindex");
    auto some_addresses = db.prepare(
        "SELECT ifindex, body FROM addresses WHERE ns = ?1 AND to_us > ?2 AND from_us <= ?2 AND ifindex IN (SELECT"
        " value FROM json_each(?3))");
    if (!some_devices) return some_devices.error();
    if (!some_addresses) return some_addresses.error();
    if (!ns) return ns.error();
    if (!attribution) return attribution.error();
    if (!devices) return devices.error();
    if (!addresses) return addresses.error();
    std::vector<NamespaceView> out;
    std::vector<std::int64_t> ids;  // each one's row
    ns->bind(1, t);
    if (only) {
      std::string list = "[";
      for (NetnsId inode : *only) list += (list.size() > 1 ? "," : "") + std::to_string(inode);
      ns->bind(2, list + "]");
    }
    for (;;) {
      auto row = ns->step();
      if (!row) return row.error();
      if (!*row) break;
      const auto inode = static_cast<NetnsId>(ns->integer(2));
      const std::int64_t id = ns->integer(0);
      NamespaceOwner owner;
      owner.uid = static_cast<std::uint32_t>(ns->maybe_integer(3).value_or(0));
      owner.userns = static_cast<NetnsId>(ns->maybe_integer(4).value_or(0));
      owner.host = ns->integer(5) != 0;
      auto handle = std::make_shared<NamespaceHandle>(Fd(), "", owner);
      handle->cookie = static_cast<std::uint64_t>(ns->integer(1));
      NamespaceView v;
      v.netns = inode;
      v.handle = std::move(handle);
      v.discovered_by = source_from_text(ns->text(6)).value_or(Source::procfs);
      v.first_seen = from_micros(ns->integer(7));

      ids.push_back(id);
      out.push_back(std::move(v));
    }
    if (only) {
      // A few namespaces: their rows by namespace.
      for (std::size_t i = 0; i < out.size(); ++i) {
        if (Status s = rows_of(*attribution, ids[i], t, [&](sql::Statement& r) { attribute(out[i], r, 0); }); !s) {
          return s.error();
        }
        sql::Statement* dev = &*devices;
        sql::Statement* addr = &*addresses;
        if (auto listed = some.find(out[i].netns); listed != some.end()) {
          std::string list = "[";
          for (std::uint32_t ifindex : listed->second) list += (list.size() > 1 ? "," : "") + std::to_string(ifindex);
          list += "]";
          some_devices->bind(3, list);
          some_addresses->bind(3, list);
          dev = &*some_devices;
          addr = &*some_addresses;
        }
        if (Status s = rows_of(*dev, ids[i], t, [&](sql::Statement& r) { add_device(out[i], r, 0); }); !s) {
          return s.error();
        }
        if (Status s = rows_of(*addr, ids[i], t, [&](sql::Statement& r) { add_address(out[i], r, 0); }); !s) {
          return s.error();
        }
      }
    } else {
      // All of them: each table once, every row true at t (the to_us index).
      std::unordered_map<std::int64_t, std::size_t> index;
      for (std::size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
      auto each = [&](const char* sql, auto fn) -> Status {
        auto q = db.prepare(sql);
        if (!q) return q.error();
        q->bind(1, t);
        for (;;) {
          auto row = q->step();
          if (!row) return row.error();
          if (!*row) return {};
          auto it = index.find(q->integer(0));
          if (it != index.end()) fn(out[it->second], *q);
        }
      };
      Status s = each(
          "SELECT ns, names, containers, lonely_since_us, processes FROM attributions WHERE to_us > ?1 AND from_us <= "
          "?1",
          [](NamespaceView& v, sql::Statement& r) { attribute(v, r, 1); });
      if (s) {
        s = each("SELECT ns, body FROM devices WHERE to_us > ?1 AND from_us <= ?1 ORDER BY ns, ifindex",
                 [](NamespaceView& v, sql::Statement& r) { add_device(v, r, 1); });
      }
      if (s) {
        s = each("SELECT ns, ifindex, body FROM addresses WHERE to_us > ?1 AND from_us <= ?1",
                 [](NamespaceView& v, sql::Statement& r) { add_address(v, r, 1); });
      }
      if (!s) return s.error();
    }
    for (NamespaceView& v : out) {
      for (Device& d : v.devices) std::sort(d.addresses.begin(), d.addresses.end(), address_order);
    }
    return out;
  }
};

HistoryReader::HistoryReader(std::string path) : impl_(std::make_unique<Impl>(std::move(path))) {}

HistoryReader::~HistoryReader() = default;

Result<std::pair<WallTime, WallTime>> HistoryReader::span() {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  sql::Connection& db = (*lease)->db();
  ReadTransaction tx(db);
  auto oldest = db.scalar("SELECT value FROM meta WHERE key = 'retained_from_us'");
  if (!oldest) return oldest.error();
  auto newest = db.scalar(
      "SELECT max(coalesce((SELECT max(seen_us) FROM runs), 0), coalesce((SELECT max(at_us) FROM changes), 0))");
  if (!newest) return newest.error();
  return std::make_pair(from_micros(*oldest), from_micros(*newest));
}

Result<std::optional<WallTime>> HistoryReader::time_of(std::uint64_t seq) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  auto q = (*lease)->db().prepare("SELECT at_us FROM changes WHERE seq = ?1");
  if (!q) return q.error();
  q->bind(1, seq);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return std::optional<WallTime>();
  return std::optional<WallTime>(from_micros(q->integer(0)));
}

Result<std::optional<Gap>> HistoryReader::gap_at(WallTime at) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  return Impl::gap_at((*lease)->db(), to_micros(at));
}

Result<Fd> HistoryReader::export_copy() {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  const std::string dir = std::filesystem::path(impl_->path).parent_path().string();
  std::string name = (dir.empty() ? std::string(".") : dir) + "/.export-XXXXXX";
  Fd made(::mkstemp(name.data()));
  if (!made) return Error::os("create a file for the copy in " + dir);
  auto copy = sql::Connection::open(name, SQLITE_OPEN_READWRITE, defaults::kJournalBusyWait);
  if (!copy) {
    ::unlink(name.c_str());
    return copy.error();
  }
  sqlite3_backup* backup = sqlite3_backup_init(copy->get(), "main", (*lease)->db().get(), "main");
  int rc = backup ? sqlite3_backup_step(backup, -1) : SQLITE_ERROR;
  if (backup) sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    Error e = copy->error("copy the journal");
    ::unlink(name.c_str());
    return e;
  }
  // One file, whole: the copy's own WAL, if it made one, goes into it.
  (void)copy->exec("PRAGMA journal_mode = DELETE");
  *copy = sql::Connection();
  Fd out(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  ::unlink(name.c_str());
  if (!out) return Error::os("open the copy");
  return out;
}

Result<std::vector<Gap>> HistoryReader::gaps(WallTime from, WallTime to) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  auto q = (*lease)->db().prepare(
      "SELECT from_us, to_us, reason FROM gaps WHERE to_us > ?1 AND from_us < ?2 ORDER BY from_us LIMIT 10000");
  if (!q) return q.error();
  q->bind(1, to_micros(from)).bind(2, to_micros(to));
  std::vector<Gap> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(Gap{from_micros(q->integer(0)), from_micros(q->integer(1)), q->text(2)});
  }
  return out;
}

Result<PointInTime> HistoryReader::state_at(WallTime at, const std::optional<std::vector<NetnsId>>& only,
                                            const std::map<NetnsId, std::vector<std::uint32_t>>& some) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  sql::Connection& db = (*lease)->db();
  ReadTransaction tx(db);
  PointInTime out;
  out.at = at;
  std::int64_t t = to_micros(at);
  auto gap = Impl::gap_at(db, t);
  if (!gap) return gap.error();
  if (*gap) {
    // Inside a gap: the last state known before it.
    out.observed = false;
    out.gap = **gap;
    t = to_micros((*gap)->from) - 1;
  }
  auto views = Impl::views_at(db, t, only, some);
  if (!views) return views.error();
  out.namespaces = std::move(*views);
  return out;
}

Result<std::vector<Holding>> HistoryReader::holders_at(const Subject& subject, WallTime at) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  sql::Connection& db = (*lease)->db();
  ReadTransaction tx(db);
  std::int64_t t = to_micros(at);
  auto gap = Impl::gap_at(db, t);
  if (!gap) return gap.error();
  if (*gap) t = to_micros((*gap)->from) - 1;
  std::string sql;
  switch (subject.kind) {
    case SubjectKind::address:
      sql =
          "SELECT a.ns, a.ifindex, a.from_us, a.to_us, n.inode, n.end_observed FROM addresses a"
          " JOIN namespaces n ON n.id = a.ns WHERE a.address = ?1 AND a.to_us > ?2 AND a.from_us <= ?2";
      break;
    case SubjectKind::device:
    case SubjectKind::mac: {
      // A device's versions each have a row: the holding is the run of
      // versions with this name (or MAC) around t, from the first of them
      // to the first version after it that has another (or to the device's end).
      const std::string col = subject.kind == SubjectKind::device ? "name" : "mac";
      sql =
          "SELECT d.ns, d.ifindex,"
          " (SELECT min(e.from_us) FROM devices e WHERE e.ns = d.ns AND e.ifindex = d.ifindex AND e." +
          col +
          " = ?1 AND e.from_us <= d.from_us AND NOT EXISTS (SELECT 1 FROM devices g WHERE g.ns = d.ns AND"
          " g.ifindex = d.ifindex AND g.from_us > e.from_us AND g.from_us <= d.from_us AND g." +
          col +
          " != ?1)),"
          " coalesce((SELECT min(g.from_us) FROM devices g WHERE g.ns = d.ns AND g.ifindex = d.ifindex AND"
          " g.from_us > d.from_us AND g." +
          col +
          " != ?1),"
          " (SELECT max(e.to_us) FROM devices e WHERE e.ns = d.ns AND e.ifindex = d.ifindex AND e.from_us >= "
          "d.from_us)),"
          " n.inode, n.end_observed, n.to_us FROM devices d JOIN namespaces n ON n.id = d.ns WHERE d." +
          col + " = ?1 AND d.to_us > ?2 AND d.from_us <= ?2 ORDER BY n.inode, d.ifindex";
      break;
    }
    default:
      return Error::logic("whois asks by address, device or mac");
  }
  auto q = db.prepare(sql);
  if (!q) return q.error();
  if (subject.kind == SubjectKind::device) {
    q->bind_blob(1, subject.value.data(), subject.value.size());
  } else {
    q->bind(1, subject.kind == SubjectKind::mac ? lower(subject.value) : subject.value);
  }
  q->bind(2, t);
  std::vector<Holding> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) break;
    Holding h;
    h.ifindex = static_cast<std::uint32_t>(q->integer(1));
    h.from = from_micros(q->integer(2));
    if (q->integer(3) != kOpen) h.to = from_micros(q->integer(3));
    h.netns = static_cast<NetnsId>(q->integer(4));
    // Unobserved only when it ended with its namespace, and that end was not seen.
    h.end_observed = !h.to || q->integer(3) != q->integer(6) || q->integer(5) != 0;
    out.push_back(h);
  }
  return out;
}

Result<std::vector<HistoryLine>> HistoryReader::changes(const std::optional<Subject>& subject, WallTime from,
                                                        WallTime to, std::uint64_t after_seq, std::size_t limit) {
  auto lease = impl_->lease();
  if (!lease) return lease.error();
  sql::Connection& db = (*lease)->db();
  std::string where;
  if (subject) {
    switch (subject->kind) {
      case SubjectKind::netns:
        where = " AND ns IN (SELECT id FROM namespaces WHERE inode = ?5)";
        break;
      case SubjectKind::device:
        where = " AND device = ?5";
        break;
      case SubjectKind::address:
        // Its own changes, and those of the devices that came or went with it.
        where =
            " AND (address = ?5 OR seq IN (SELECT from_seq FROM addresses WHERE address = ?5) OR seq IN (SELECT to_seq"
            " FROM addresses WHERE address = ?5))";
        break;
      case SubjectKind::mac:
        where = " AND ns || '/' || device IN (SELECT ns || '/' || name FROM devices WHERE mac = ?5)";
        break;
      case SubjectKind::container:
        where = " AND ns IN (SELECT ns FROM attributions WHERE containers LIKE '%\"' || ?5 || '%')";
        break;
    }
  }
  auto q = db.prepare("SELECT seq, at_us, body FROM changes WHERE seq > ?1 AND at_us >= ?2 AND at_us < ?3" + where +
                      " ORDER BY seq LIMIT ?4");
  if (!q) return q.error();
  q->bind(1, after_seq).bind(2, to_micros(from)).bind(3, to_micros(to)).bind(4, static_cast<std::int64_t>(limit));
  if (subject) {
    if (subject->kind == SubjectKind::device) {
      q->bind_blob(5, subject->value.data(), subject->value.size());
    } else {
      q->bind(5, subject->kind == SubjectKind::mac ? lower(subject->value) : subject->value);
    }
  }
  std::vector<HistoryLine> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({static_cast<std::uint64_t>(q->integer(0)), from_micros(q->integer(1)), q->text(2)});
  }
  return out;
}

}  // namespace netnsd::history
