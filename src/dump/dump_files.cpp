#include "dump/dump_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "util/fd.h"

namespace netnsd {
namespace {

constexpr int kNameAttempts = 16;
constexpr std::string_view kDumpPrefix = "network-namespace-dump-";
constexpr std::string_view kGraphPrefix = "network-namespace-graph-";
constexpr std::string_view kDumpSuffix = ".json";
constexpr std::string_view kGraphSuffix = ".dot";

std::string unique_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto now = std::chrono::system_clock::now();
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  char rnd[16];
  std::snprintf(rnd, sizeof rnd, "%08x", static_cast<unsigned>(rng()));
  return std::string(stamp) + "-" + rnd;
}

mode_t file_mode(const DumpFileOptions& o) {
  return o.group ? 0440 : 0400;
}
mode_t dir_mode(const DumpFileOptions& o) {
  return o.group ? 0750 : 0700;
}

Status write_all(int fd, const std::string& data, const std::string& what) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::os("cannot write " + what);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// A file being written in `dirfd`: removed again unless committed.
class PendingFile {
 public:
  PendingFile(int dirfd, std::string dir) : dirfd_(dirfd), dir_(std::move(dir)) {}
  ~PendingFile() {
    if (!temp_.empty()) ::unlinkat(dirfd_, temp_.c_str(), 0);
    if (!final_.empty() && !committed_) ::unlinkat(dirfd_, final_.c_str(), 0);
  }

  // Writes `data` to a temporary file, durably, with its final mode and group.
  Status write(std::string_view prefix, const std::string& data, const DumpFileOptions& options) {
    Fd fd;
    for (int attempt = 0; attempt < kNameAttempts && !fd; ++attempt) {
      std::string name = "." + std::string(prefix) + unique_suffix() + ".tmp";
      fd.reset(::openat(dirfd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400));
      if (fd) {
        temp_ = std::move(name);  // ours from now on: removed unless renamed
      } else if (errno != EEXIST) {
        return Error::os("cannot create a file in " + dir_);
      }
    }
    if (!fd) return Error::os("cannot create a file in " + dir_, EEXIST);
    if (Status st = write_all(fd.get(), data, temp_path()); !st) return st;
    // The umask may have narrowed the mode further; make it exactly what it should be.
    if (options.group && ::fchown(fd.get(), static_cast<uid_t>(-1), *options.group) != 0) {
      return Error::os("cannot give " + temp_path() + " to its group");
    }
    if (::fchmod(fd.get(), file_mode(options)) != 0) return Error::os("cannot set mode of " + temp_path());
    if (::fsync(fd.get()) != 0) return Error::os("cannot write " + temp_path() + " to disk");
    if (::close(fd.release()) != 0) return Error::os("cannot write " + temp_path());
    return {};
  }

  // Renames the temporary to <prefix><stamp><suffix> (a fresh stamp if taken).
  Status place(std::string_view prefix, std::string_view suffix, const std::string& stamp) {
    for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
      std::string name = std::string(prefix) + (attempt == 0 ? stamp : unique_suffix()) + std::string(suffix);
      if (::renameat2(dirfd_, temp_.c_str(), dirfd_, name.c_str(), RENAME_NOREPLACE) == 0) {
        temp_.clear();
        final_ = std::move(name);
        return {};
      }
      if (errno != EEXIST) return Error::os("cannot rename " + temp_path() + " into place");
    }
    return Error::os("cannot find a free name in " + dir_, EEXIST);
  }

  std::string path() const { return dir_ + "/" + final_; }
  void commit() { committed_ = true; }

 private:
  std::string temp_path() const { return dir_ + "/" + temp_; }

  int dirfd_;
  std::string dir_;
  std::string temp_;
  std::string final_;
  bool committed_ = false;
};

std::string trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

Result<Fd> open_dir(const std::string& dir) {
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dirfd) return Error::os("cannot open the dump directory " + dir);
  return dirfd;
}

// The pairs in a directory: stamp -> which halves exist; plus temporaries.
struct Listing {
  struct Pair {
    bool dump = false;
    bool graph = false;
    std::int64_t mtime_ns = 0;  // of the newest half
  };
  std::map<std::string, Pair> pairs;
  std::vector<std::string> temporaries;
};

bool strip(std::string_view& name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  name = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return true;
}

Result<Listing> list_dir(int dirfd, const std::string& dir) {
  Fd copy(::dup(dirfd));
  if (!copy) return Error::os("cannot read " + dir);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(copy.get()), ::closedir);
  if (!d) return Error::os("cannot read " + dir);
  copy.release();
  ::rewinddir(d.get());
  Listing out;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.substr(0, 19) == ".network-namespace-" && name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      out.temporaries.emplace_back(name);
      continue;
    }
    std::string_view stamp = name;
    bool dump = strip(stamp, kDumpPrefix, kDumpSuffix);
    if (!dump && !strip(stamp, kGraphPrefix, kGraphSuffix)) continue;
    struct stat st {};
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    Listing::Pair& pair = out.pairs[std::string(stamp)];
    (dump ? pair.dump : pair.graph) = true;
    pair.mtime_ns = std::max<std::int64_t>(pair.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  }
  return out;
}

void remove_pair(int dirfd, const std::string& stamp) {
  ::unlinkat(dirfd, (std::string(kDumpPrefix) + stamp + std::string(kDumpSuffix)).c_str(), 0);
  ::unlinkat(dirfd, (std::string(kGraphPrefix) + stamp + std::string(kGraphSuffix)).c_str(), 0);
}

// Keeps the newest `keep` complete pairs. Returns how many it removed.
std::size_t prune(int dirfd, Listing& listing, std::size_t keep) {
  if (keep == 0) return 0;
  std::vector<std::pair<std::int64_t, std::string>> complete;
  for (const auto& [stamp, pair] : listing.pairs) {
    if (pair.dump && pair.graph) complete.emplace_back(pair.mtime_ns, stamp);
  }
  if (complete.size() <= keep) return 0;
  std::sort(complete.begin(), complete.end());
  const std::size_t excess = complete.size() - keep;
  for (std::size_t i = 0; i < excess; ++i) remove_pair(dirfd, complete[i].second);
  return excess;
}

}  // namespace

Status ensure_dump_dir(const std::string& dir_in, const DumpFileOptions& options) {
  const std::string dir = trimmed(dir_in);
  if (dir.empty()) return Error::logic("the dump directory is empty");
  // Create missing parents one component at a time.
  for (std::size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return Error::os("cannot create " + parent);
  }
  if (::mkdir(dir.c_str(), dir_mode(options)) != 0 && errno != EEXIST) return Error::os("cannot create " + dir);
  auto dirfd = open_dir(dir);
  if (!dirfd) return dirfd.error();
  // Exactly its mode and group, whatever the umask took away or an earlier
  // configuration left: dumps are readable by the socket's group or by root only.
  struct stat st {};
  if (::fstat(dirfd->get(), &st) != 0) return Error::os("cannot inspect " + dir);
  const uid_t owner = ::geteuid();
  const gid_t group = options.group ? *options.group : ::getegid();
  if ((st.st_uid != owner || st.st_gid != group) && ::fchown(dirfd->get(), owner, group) != 0) {
    return Error::os("cannot give " + dir + " to its owner and group");
  }
  if ((st.st_mode & 07777) != dir_mode(options) && ::fchmod(dirfd->get(), dir_mode(options)) != 0) {
    return Error::os("cannot set the mode of " + dir);
  }
  return {};
}

Result<DumpPaths> write_dump_files(const std::string& dir_in, const std::string& dump_json,
                                   const std::string& graph_dot, const DumpFileOptions& options) {
  const std::string dir = trimmed(dir_in);
  if (Status st = ensure_dump_dir(dir, options); !st) return st.error();
  auto dirfd = open_dir(dir);
  if (!dirfd) return dirfd.error();

  struct statvfs fs {};
  if (::fstatvfs(dirfd->get(), &fs) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    const std::uint64_t needed = dump_json.size() + graph_dot.size() + options.min_free_bytes;
    if (free_bytes < needed) {
      return Error{ENOSPC, "the filesystem of " + dir + " has " + std::to_string(free_bytes >> 20) +
                               " MiB free; netnsd keeps " + std::to_string(options.min_free_bytes >> 20) +
                               " MiB free beside a dump of " +
                               std::to_string((dump_json.size() + graph_dot.size()) >> 10) + " KiB"};
    }
  }

  PendingFile dump(dirfd->get(), dir);
  PendingFile graph(dirfd->get(), dir);
  if (Status st = dump.write(kDumpPrefix, dump_json, options); !st) return st.error();
  if (Status st = graph.write(kGraphPrefix, graph_dot, options); !st) return st.error();
  // The pair shares its stamp, so a dump and its graph sort and match
  // together; the graph goes first, so a dump is never seen without it.
  const std::string stamp = unique_suffix();
  if (Status st = graph.place(kGraphPrefix, kGraphSuffix, stamp); !st) return st.error();
  if (Status st = dump.place(kDumpPrefix, kDumpSuffix, stamp); !st) return st.error();
  if (::fsync(dirfd->get()) != 0) return Error::os("cannot write the directory " + dir + " to disk");
  dump.commit();
  graph.commit();
  DumpPaths paths{dump.path(), graph.path()};

  if (options.max_dumps) {
    if (auto listing = list_dir(dirfd->get(), dir)) prune(dirfd->get(), *listing, options.max_dumps);
  }
  return paths;
}

Result<SweepReport> sweep_dump_dir(const std::string& dir_in, const DumpFileOptions& options) {
  const std::string dir = trimmed(dir_in);
  if (Status st = ensure_dump_dir(dir, options); !st) return st.error();
  auto dirfd = open_dir(dir);
  if (!dirfd) return dirfd.error();
  auto listing = list_dir(dirfd->get(), dir);
  if (!listing) return listing.error();
  SweepReport report;
  for (const std::string& name : listing->temporaries) {
    if (::unlinkat(dirfd->get(), name.c_str(), 0) == 0) ++report.temporaries;
  }
  for (auto it = listing->pairs.begin(); it != listing->pairs.end();) {
    if (it->second.dump && it->second.graph) {
      ++it;
      continue;
    }
    remove_pair(dirfd->get(), it->first);
    ++report.unpaired;
    it = listing->pairs.erase(it);
  }
  report.pruned = prune(dirfd->get(), *listing, options.max_dumps);
  ::fsync(dirfd->get());
  return report;
}

}  // namespace netnsd
