// The journal: every change the cache applies, written to an SQLite database
// (WAL mode) as intervals of what was true, so that the past can be asked
// about (HistoryReader) after the cache has forgotten it.
//
// One writer thread owns the database. It takes changes from the feed
// through a queue of its own, so the event thread never waits on disk, and
// writes them in batches, at least once per heartbeat. Each batch is one
// transaction; the run's heartbeat (runs.seen_us) goes with it, which bounds
// what a crash can hide to one heartbeat.
//
// Durability: synchronous=NORMAL in WAL mode. A crash of netnsd loses
// nothing committed (the WAL is in the kernel's page cache); a power loss or
// a kernel crash may lose the transactions since the last checkpoint's sync,
// at most a few heartbeats in practice, and never leaves the database
// inconsistent. FULL would sync the WAL on every commit, once a second at
// least, for a history that the next start marks as a gap anyway.
//
// Never fatal: a journal that cannot be opened or written (a read-only or
// full disk) is "degraded" (its reason for /readyz), its changes are counted
// as lost, and it is tried again every retry period. When it can write
// again it records the outage as a gap and the cache as it is then.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/changes.h"
#include "resolver/model.h"
#include "util/clock.h"
#include "util/defaults.h"

namespace netnsd::history {

struct JournalOptions {
  std::string path = defaults::kJournalPath;
  std::chrono::seconds max_age = defaults::kJournalMaxAge;
  std::uint64_t max_bytes = defaults::kJournalMaxBytes;
  std::size_t queue = defaults::kJournalQueue;
  std::size_t batch = defaults::kJournalBatch;
  std::chrono::milliseconds flush_period = defaults::kJournalFlushPeriod;
  std::chrono::milliseconds heartbeat = defaults::kJournalHeartbeat;
  std::chrono::milliseconds retry = defaults::kJournalRetry;
  int device_changes_per_minute = defaults::kJournalDeviceChangesPerMinute;
  std::string boot_id;  // empty: the kernel's (/proc/sys/kernel/random/boot_id)
  std::string version;  // netnsd's, for the runs table
};

struct JournalStats {
  std::uint64_t written = 0;       // changes recorded
  std::uint64_t rate_limited = 0;  // device versions not recorded: the device flapped
  std::uint64_t lost = 0;          // changes not recorded: the queue overflowed, or the journal could not be written
  std::uint64_t write_errors = 0;  // transactions that failed
  std::uint64_t batches = 0;
  std::uint64_t retention_runs = 0;  // times old history was removed
  std::uint64_t bytes = 0;           // database, WAL and shared memory, at the last look
  std::uint64_t last_seq = 0;
  double write_seconds = 0;             // spent in transactions, summed
  std::optional<std::string> degraded;  // why nothing is written now
};

class Journal {
 public:
  // Opens (creates, migrates) the journal and records this start: a gap
  // since the last run's last heartbeat or clean stop, with what that run
  // left open ending where the gap starts. A journal that cannot be opened
  // is degraded, not an error.
  Journal(JournalOptions options, const Clock& clock);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // The last sequence number recorded: the feed continues after it.
  std::uint64_t last_seq() const;
  // Starts the writer on `feed`'s changes. `current` gives the cache as it
  // is, recorded again after a gap of the journal's own.
  void start(ChangeFeed& feed, std::function<std::vector<NamespaceView>()> current);
  // Writes what is queued, records a clean stop and ends the writer.
  void stop();
  JournalStats stats() const;
  const JournalOptions& options() const;
  // Waits until change `seq` is committed (true), or `timeout` passes, or the
  // journal cannot write (false).
  bool wait_written(std::uint64_t seq, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The kernel's boot id, or "" when it cannot be read.
std::string read_boot_id();

}  // namespace netnsd::history
