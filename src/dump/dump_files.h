// Writing a dump and its graph into the dump directory, safely.
//
// The directory is created 0700 when missing (parents 0755) and opened
// without following a symlink at its last component. Each file is written
// under a hidden temporary name created exclusively with O_NOFOLLOW, given
// mode 0400, then renamed into place with RENAME_NOREPLACE, so a reader
// never sees half a file and an existing file is never replaced. On any
// failure neither file is left behind.
#pragma once

#include <string>

#include "util/result.h"

namespace netnsd {

struct DumpPaths {
  std::string dump_filename;   // <dir>/network-namespace-dump-<stamp>.json
  std::string graph_filename;  // <dir>/network-namespace-graph-<stamp>.dot
};

Result<DumpPaths> write_dump_files(const std::string& dir, const std::string& dump_json, const std::string& graph_dot);

// Creates `dir` (0700) and its missing parents (0755); an existing directory
// is left as it is.
Status ensure_dump_dir(const std::string& dir);

}  // namespace netnsd
