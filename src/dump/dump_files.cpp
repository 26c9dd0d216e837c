#include "dump/dump_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "util/fd.h"

namespace netnsd {
namespace {

constexpr int kNameAttempts = 16;

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

  // Writes `data` to <prefix><stamp><suffix>, trying fresh stamps if taken.
  Status write(const std::string& prefix, const std::string& suffix, const std::string& data,
               const std::string& stamp) {
    Fd fd;
    for (int attempt = 0; attempt < kNameAttempts && !fd; ++attempt) {
      std::string name = "." + prefix + unique_suffix() + suffix + ".tmp";
      fd.reset(::openat(dirfd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400));
      if (fd) {
        temp_ = std::move(name);  // ours from now on: removed unless renamed
      } else if (errno != EEXIST) {
        return Error::os("cannot create a file in " + dir_);
      }
    }
    if (!fd) return Error::os("cannot create a file in " + dir_, EEXIST);
    if (Status st = write_all(fd.get(), data, temp_path()); !st) return st;
    // The umask may have narrowed the mode further; make it exactly 0400.
    if (::fchmod(fd.get(), 0400) != 0) return Error::os("cannot set mode of " + temp_path());
    if (::close(fd.release()) != 0) return Error::os("cannot write " + temp_path());

    for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
      std::string name = prefix + (attempt == 0 ? stamp : unique_suffix()) + suffix;
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

}  // namespace

Status ensure_dump_dir(const std::string& dir) {
  if (dir.empty()) return Error::logic("the dump directory is empty");
  // Create missing parents one component at a time.
  for (std::size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error::os("cannot create " + parent);
    }
  }
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // Exactly 0700, whatever the umask took away.
    if (::chmod(dir.c_str(), 0700) != 0) return Error::os("cannot set the mode of " + dir);
  } else if (errno != EEXIST) {
    return Error::os("cannot create " + dir);
  }
  return {};
}

Result<DumpPaths> write_dump_files(const std::string& dir_in, const std::string& dump_json,
                                   const std::string& graph_dot) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (Status st = ensure_dump_dir(dir); !st) return st.error();
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dirfd) return Error::os("cannot open the dump directory " + dir);

  PendingFile dump(dirfd.get(), dir);
  PendingFile graph(dirfd.get(), dir);
  // The pair shares its stamp, so a dump and its graph sort and match together.
  const std::string stamp = unique_suffix();
  if (Status st = dump.write("network-namespace-dump-", ".json", dump_json, stamp); !st) {
    return st.error();
  }
  if (Status st = graph.write("network-namespace-graph-", ".dot", graph_dot, stamp); !st) {
    return st.error();
  }
  dump.commit();
  graph.commit();
  return DumpPaths{dump.path(), graph.path()};
}

}  // namespace netnsd
