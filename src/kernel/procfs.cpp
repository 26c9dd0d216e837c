#include "kernel/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <set>

#include "util/defaults.h"
#include "util/fd.h"

namespace netnsd {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool is_number(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

// fdopendir() takes ownership of the fd on success only.
DirPtr open_dir_at(int dirfd, const char* name) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  DIR* d = ::fdopendir(fd);
  if (!d) ::close(fd);
  return DirPtr(d);
}

// Errors about one task: it is exiting or gone (ENOENT, ESRCH), or it is
// hidden from us (EACCES, EPERM: ptrace-protected, even from root). The
// scan goes on without it. Anything else (EMFILE, ENOMEM, ...) is about us,
// and a scan that skipped tasks for that reason would make live namespaces
// look empty.
bool skippable(int err) {
  return err == ENOENT || err == ESRCH || err == EACCES || err == EPERM;
}

}  // namespace

Result<TaskScan> scan_tasks(const std::string& proc_root) {
  TaskScan scan;
  Fd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc) return Error::os("open " + proc_root);
  DirPtr procs = open_dir_at(proc.get(), ".");
  if (!procs) return Error::os("read " + proc_root);

  std::set<NetnsId> seen_by_process;
  while (dirent* pe = ::readdir(procs.get())) {
    if (!is_number(pe->d_name)) continue;
    std::string task_dir = std::string(pe->d_name) + "/task";
    DirPtr tasks = open_dir_at(proc.get(), task_dir.c_str());
    if (!tasks) {
      if (skippable(errno)) continue;
      return Error::os("open " + proc_root + "/" + task_dir);
    }
    int tasks_fd = ::dirfd(tasks.get());
    seen_by_process.clear();
    while (dirent* te = ::readdir(tasks.get())) {
      if (!is_number(te->d_name)) continue;
      std::string rel = std::string(te->d_name) + "/ns/net";
      struct stat st {};
      if (::fstatat(tasks_fd, rel.c_str(), &st, 0) != 0) {
        if (skippable(errno)) continue;
        return Error::os("stat " + proc_root + "/" + task_dir + "/" + rel);
      }
      NetnsId netns = st.st_ino;
      if (!seen_by_process.insert(netns).second) continue;
      TaskNetns& entry = scan[netns];
      ++entry.pids;
      const auto pid = static_cast<std::uint32_t>(std::strtoul(pe->d_name, nullptr, 10));
      if (entry.listed.size() < defaults::kProcessesListed) {
        entry.listed.push_back(pid);
      } else {
        entry.unlisted.push_back(pid);
      }
      if (entry.task_path.empty()) entry.task_path = proc_root + "/" + task_dir + "/" + rel;
    }
  }
  return scan;
}

}  // namespace netnsd
