#include "kernel/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

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

namespace netnsd {
namespace {

// The inode of a descriptor's target when it is a socket ("socket:[1234]").
std::optional<std::uint64_t> socket_inode(int fd_dir, const char* name) {
  char target[64];
  const ssize_t n = ::readlinkat(fd_dir, name, target, sizeof target - 1);
  constexpr std::string_view prefix = "socket:[";
  if (n <= static_cast<ssize_t>(prefix.size()) + 1) return std::nullopt;
  const std::string_view link(target, static_cast<std::size_t>(n));
  if (link.substr(0, prefix.size()) != prefix || link.back() != ']') return std::nullopt;
  std::uint64_t inode = 0;
  for (char c : link.substr(prefix.size(), link.size() - prefix.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    inode = inode * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return inode;
}

}  // namespace

SocketOwners find_socket_owners(const std::unordered_set<std::uint64_t>& inodes,
                                std::chrono::steady_clock::time_point deadline, const std::string& proc_root) {
  SocketOwners owners;
  if (inodes.empty()) return owners;
  Fd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DirPtr procs = proc ? open_dir_at(proc.get(), ".") : nullptr;
  if (!procs) {
    owners.complete = false;
    return owners;
  }
  while (dirent* pe = ::readdir(procs.get())) {
    if (!is_number(pe->d_name)) continue;
    if (std::chrono::steady_clock::now() >= deadline) {
      owners.complete = false;
      break;
    }
    const std::string fd_dir = std::string(pe->d_name) + "/fd";
    DirPtr fds = open_dir_at(proc.get(), fd_dir.c_str());
    if (!fds) continue;  // gone, or hidden from us
    ++owners.processes;
    const auto pid = static_cast<std::uint32_t>(std::strtoul(pe->d_name, nullptr, 10));
    std::optional<NetnsId> netns;
    while (dirent* fe = ::readdir(fds.get())) {
      if (!is_number(fe->d_name)) continue;
      auto inode = socket_inode(::dirfd(fds.get()), fe->d_name);
      if (!inode || !inodes.contains(*inode)) continue;
      if (!netns) {
        struct stat st {};
        const std::string ns = std::string(pe->d_name) + "/ns/net";
        netns = ::fstatat(proc.get(), ns.c_str(), &st, 0) == 0 ? static_cast<NetnsId>(st.st_ino) : 0;
      }
      SocketOwners::Held& held = owners.by_inode[*inode];
      ++held.total;
      if (held.listed.size() < defaults::kSocketHoldersListed) {
        held.listed.push_back(SocketHolder{pid, std::atoi(fe->d_name), *netns});
      }
    }
  }
  return owners;
}

}  // namespace netnsd
