// The journal's tables, and how a database written by any earlier version of
// netnsd is brought forward (PRAGMA user_version counts the steps taken).
//
// Every fact is an interval [from_us, to_us): what was true at T is the rows
// with from_us <= T < to_us, found through an index on to_us (rows still
// true carry kOpen). Times are microseconds since the epoch.
//
//   runs          one row per start of netnsd: boot id, start, the last
//                 heartbeat (seen_us), the clean stop if there was one
//   gaps          when nothing was observed: netnsd down ("stopped",
//                 "crashed"), or the journal itself ("unwritable", "behind")
//   namespaces    one row per namespace for as long as the cache held it,
//                 keyed by (boot_id, cookie); the inode is what queries use
//   attributions  its names, containers (pods) and processes (the first
//                 of them, lowest pids; since version 2), an interval each
//   devices       one row per version of a device (a change closes one and
//                 opens the next)
//   addresses     one row per address on a device, with the sequence
//                 numbers of the changes that added and removed it (a
//                 device's own when it came or went with its addresses)
//   changes       every change as the event stream shows it, by sequence
//                 number, with its subject columns for /v1/history
//   meta          retained_from_us (nothing older is kept), last_seq
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "history/sqlite.h"

namespace netnsd::history {

inline constexpr std::int64_t kOpen = std::numeric_limits<std::int64_t>::max();

// The steps, oldest first: step i takes a database from version i to i + 1.
// A released step never changes; a new version appends one.
const std::vector<std::string_view>& schema_steps();
inline int schema_version() {
  return static_cast<int>(schema_steps().size());
}

// Brings the database to schema_version(), in one transaction; refuses one
// written by a newer netnsd.
Status migrate(sql::Connection& db);

}  // namespace netnsd::history
