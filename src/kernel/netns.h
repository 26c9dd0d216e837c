// Network-namespace handles and entering a namespace from one thread.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "resolver/model.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

// Opens a network-namespace file (/proc/PID/task/TID/ns/net or an nsfs bind
// mount) read-only and verifies, on the open fd, that it is a network
// namespace and, when `expected` is given, that it is that inode: a task can
// move between the stat and the open.
Result<Fd> open_netns(const std::string& path, std::optional<NetnsId> expected = std::nullopt);

// Inode of the namespace behind an open nsfs fd.
Result<NetnsId> netns_inode(int fd);

// Inode of the calling thread's network namespace.
Result<NetnsId> current_netns();

namespace detail {
Status enter_netns(int ns_fd);
void leave_netns();  // aborts the process if the thread cannot get back
}  // namespace detail

// Runs fn() with the calling thread inside the namespace of `ns_fd`, then
// moves the thread back to the namespace it started in. Only network
// namespaces change, and only for this thread. Sockets created inside stay
// bound to the namespace they were created in; that is how netnsd talks
// rtnetlink to every namespace from one process.
template <class F>
auto run_in_netns(int ns_fd, F&& fn) -> Result<decltype(fn())> {
  if (Status st = detail::enter_netns(ns_fd); !st) return st.error();
  // Back home on every path out, exceptions included.
  struct Home {
    ~Home() { detail::leave_netns(); }
  } home;
  return fn();
}

}  // namespace netnsd
