// Writing a dump and its graph into the dump directory: safely, durably and
// within bounds.
//
// - Never through a symlink: the directory is opened O_NOFOLLOW at its last
//   component, files are created exclusively with O_NOFOLLOW under hidden
//   temporary names.
// - Durable and atomic: each file is fsync'ed, then renamed into place with
//   RENAME_NOREPLACE, the graph before the dump, and the directory fsync'ed
//   before the caller hears of it. A reader never sees half a file, and a
//   dump is never visible without its graph. On any failure neither file is
//   left behind; a crash leaves at most temporaries and a lone graph, which
//   sweep_dump_dir() removes at the next start.
// - Bounded: the newest max_dumps pairs are kept; a filesystem with less
//   than min_free_bytes left (after the dump) gets ENOSPC and no files.
// - Readable as the socket is: with a group, the directory is 0750 and the
//   files 0440, owned by root and that group; without, 0700 and 0400.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "util/defaults.h"
#include "util/result.h"

namespace netnsd {

struct DumpPaths {
  std::string dump_filename;   // <dir>/network-namespace-dump-<stamp>.json
  std::string graph_filename;  // <dir>/network-namespace-graph-<stamp>.dot
};

struct DumpFileOptions {
  std::optional<gid_t> group;                   // who may read the dumps besides root (the socket's group)
  std::size_t max_dumps = defaults::kMaxDumps;  // pairs kept, newest first; 0 keeps all
  std::uint64_t min_free_bytes = defaults::kDumpMinFreeBytes;
};

// Writes the pair; ENOSPC (and no files) when the filesystem would be left
// with less than min_free_bytes. Then prunes to max_dumps pairs.
Result<DumpPaths> write_dump_files(const std::string& dir, const std::string& dump_json, const std::string& graph_dot,
                                   const DumpFileOptions& options = {});

// Creates `dir` and its missing parents (0755); gives `dir` its mode and
// group (see above), whether it was there or not.
Status ensure_dump_dir(const std::string& dir, const DumpFileOptions& options = {});

struct SweepReport {
  std::size_t temporaries = 0;  // .network-namespace-*.tmp left by a crash
  std::size_t unpaired = 0;     // a dump or graph without its other half
  std::size_t pruned = 0;       // pairs beyond max_dumps
};

// What a start-up does to the directory: removes temporaries and unpaired
// files a crash left behind, then keeps the newest max_dumps pairs.
Result<SweepReport> sweep_dump_dir(const std::string& dir, const DumpFileOptions& options = {});

}  // namespace netnsd
