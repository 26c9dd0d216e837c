#include "kernel/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdlib>

namespace netnsd {

Result<NetnsId> netns_inode(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error::os("fstat namespace handle");
  return static_cast<NetnsId>(st.st_ino);
}

Result<Fd> open_netns(const std::string& path, std::optional<NetnsId> expected) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::os("open " + path);
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0) return Error::os(path + " is not a namespace file");
  if (type != CLONE_NEWNET) return Error::logic(path + " is not a network namespace");
  if (expected) {
    auto inode = netns_inode(fd.get());
    if (!inode) return inode.error();
    if (*inode != *expected) {
      return Error::logic(path + " changed namespace while being opened (expected " + std::to_string(*expected) +
                          ", got " + std::to_string(*inode) + ")");
    }
  }
  return fd;
}

Result<NetnsId> current_netns() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return Error::os("stat /proc/thread-self/ns/net");
  return static_cast<NetnsId>(st.st_ino);
}

namespace detail {
namespace {

// The namespace this thread lives in when it is not visiting another one.
// Opened on first use, and again after a failure (EMFILE passes).
Fd& home_netns() {
  thread_local Fd home;
  if (!home) home.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  return home;
}

}  // namespace

Status enter_netns(int ns_fd) {
  if (!home_netns()) return Error::os("open /proc/thread-self/ns/net");
  if (::setns(ns_fd, CLONE_NEWNET) != 0) return Error::os("setns into network namespace");
  return {};
}

void leave_netns() {
  if (::setns(home_netns().get(), CLONE_NEWNET) != 0) {
    // Carrying on would serve the wrong namespace's data from this thread.
    spdlog::critical("cannot return thread to its network namespace: {}", std::strerror(errno));
    std::abort();
  }
}

}  // namespace detail
}  // namespace netnsd
