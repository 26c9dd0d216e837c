// Questions to the journal: the cache as it was at an instant, who held an
// address, a device name or a MAC then, and the changes to one subject.
//
// Each answer is read in one short read transaction on a connection of its
// own (WAL readers never block the writer); long answers are paged by the
// caller (changes() takes a page at a time), so a slow client never holds a
// snapshot that would stop checkpoints.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "resolver/model.h"
#include "util/clock.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd::history {

// When nothing was observed: netnsd was down ("stopped", "crashed"), or the
// journal could not keep up or write ("behind", "unwritable").
struct Gap {
  WallTime from;
  WallTime to;
  std::string reason;
};

// The cache as it was at `at`. Inside a gap: as it was last known before
// it, observed = false.
struct PointInTime {
  WallTime at;
  bool observed = true;
  std::optional<Gap> gap;
  std::vector<NamespaceView> namespaces;  // sorted by inode; handles carry no descriptor
};

// A device that held what was asked for (an address, a name, a MAC) at the
// asked time, and for how long.
struct Holding {
  NetnsId netns = 0;
  std::uint32_t ifindex = 0;
  WallTime from;
  std::optional<WallTime> to;  // unset: still held when the journal last looked
  bool end_observed = true;    // false: it ended in a gap (nobody saw it go)
};

enum class SubjectKind { netns, device, address, mac, container };

struct Subject {
  SubjectKind kind = SubjectKind::netns;
  std::string value;  // the inode in decimal, a device name, an address, a MAC, a container id or name
};

// One change as the event stream shows it (a line of NDJSON, no newline).
struct HistoryLine {
  std::uint64_t seq = 0;
  WallTime at;
  std::string json;
};

class HistoryReader {
 public:
  explicit HistoryReader(std::string path);
  ~HistoryReader();
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  // The oldest instant the journal still answers for, and the newest it
  // has seen (its last heartbeat or change).
  Result<std::pair<WallTime, WallTime>> span();
  // When change `seq` was applied; an error when it is not retained.
  Result<std::optional<WallTime>> time_of(std::uint64_t seq);
  // The cache at `at`; with `only`, just the namespaces with those inodes;
  // of a namespace in `some`, just the devices with those ifindexes.
  Result<PointInTime> state_at(WallTime at, const std::optional<std::vector<NetnsId>>& only = std::nullopt,
                               const std::map<NetnsId, std::vector<std::uint32_t>>& some = {});
  // Devices that held `subject` (device, address or mac) at `at`.
  Result<std::vector<Holding>> holders_at(const Subject& subject, WallTime at);
  // The gap `at` falls in, if any.
  Result<std::optional<Gap>> gap_at(WallTime at);
  // The gaps that overlap [from, to), oldest first.
  Result<std::vector<Gap>> gaps(WallTime from, WallTime to);
  // Changes to `subject` with sequence numbers after `after_seq`, applied in
  // [from, to), oldest first, at most `limit`.
  Result<std::vector<HistoryLine>> changes(const std::optional<Subject>& subject, WallTime from, WallTime to,
                                           std::uint64_t after_seq, std::size_t limit);

  // A consistent copy of the whole journal (SQLite's online backup, in one
  // read transaction: the writer goes on), as an open, already unlinked
  // file made in the journal's directory.
  Result<Fd> export_copy();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netnsd::history
