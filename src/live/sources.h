// The kernel as the Tracker sees it: the event sources it watches.
//
// Each source hands out a descriptor for the Tracker's EventLoop to watch,
// and the loop calls back on its thread. KernelSources (kernel_sources.h)
// makes the real ones: BPF tracepoints, one rtnetlink monitor socket per
// namespace, pidfds, /proc/self/mountinfo. Unit tests substitute fakes built
// on eventfds (tests/support/fake_sources.h), so the Tracker's whole state
// machine runs, threads and all, without privileges.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "kernel/bpf_events.h"
#include "kernel/rtnl.h"
#include "resolver/model.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

// Tasks entering namespaces and processes leaving them (the eBPF programs).
class NamespaceEvents {
 public:
  using Callback = std::function<void(const NetnsEvent&)>;
  virtual ~NamespaceEvents() = default;
  // Turns readable when events are waiting.
  virtual int ready_fd() const = 0;
  // Delivers every waiting event to the callback given at creation, without
  // blocking. Returns how many.
  virtual Result<int> consume() = 0;
  // What the kernel side counted, drops included.
  virtual NetnsEventCounters counters() const = 0;
};

// One namespace's link notifications (RTNLGRP_LINK and addresses) and,
// when the sources were made with routes, its routes, rules and neighbours.
class LinkMonitor {
 public:
  virtual ~LinkMonitor() = default;
  // Turns readable when notifications are waiting.
  virtual int fd() const = 0;
  // Delivers what is waiting, without blocking. Fails with ENOBUFS when some
  // were lost: the caller must list the namespace's links again; with EBUSY
  // when another thread is using the monitor's socket for a request: the
  // caller stops watching fd() until the monitor's wake is called.
  virtual Status read(const std::function<void(const LinkEvent&)>& on_event) = 0;
  // The same, with route, rule and neighbour notifications to `on_fact`, at
  // most `max_datagrams` per call (the loop comes back for the rest). After
  // ENOBUFS the caller lists the namespace's facts again too.
  virtual Status read(const std::function<void(const LinkEvent&)>& on_event,
                      const std::function<void(const FactEvent&)>& on_fact, std::size_t max_datagrams) {
    (void)on_fact;
    (void)max_datagrams;
    return read(on_event);
  }
  // Once fd() is watched: `quiet(true)` is called, from the requesting
  // thread, when a request starts on the monitor's socket and `quiet(false)`
  // when it ends, so that the replies it reads do not wake the watcher.
  virtual void quiet_during_requests(std::function<void(bool quiet)> quiet) { (void)quiet; }
};

// A descriptor and the epoll events that say "look again".
struct Watchable {
  Fd fd;
  std::uint32_t events = 0;
};

// Threading: called on the Tracker's event thread only.
class LiveSources {
 public:
  virtual ~LiveSources() = default;
  // The namespace events, filtered in the kernel as `options` say.
  virtual Result<std::unique_ptr<NamespaceEvents>> namespace_events(const NetnsEventOptions& options,
                                                                    NamespaceEvents::Callback callback) = 0;
  // A monitor of the links of namespace `netns`, on `handle`'s socket.
  // `rcvbuf` bytes of notifications may wait before they overflow. `wake`
  // is called, from any thread, when notifications wait that fd() no longer
  // shows (a request on the same socket took them in) or after a read was
  // turned away (EBUSY): the caller reads again then.
  virtual Result<std::unique_ptr<LinkMonitor>> link_monitor(const NamespaceHandle& handle, NetnsId netns, int rcvbuf,
                                                            std::function<void()> wake) = 0;
  // Turns readable once thread `tid` of process `tgid` has gone (it has left
  // its namespaces). Fails when it is gone already.
  virtual Result<Fd> exit_watch(pid_t tgid, pid_t tid) = 0;
  // Signals a change of the mount table (bind mounts of namespaces).
  virtual Result<Watchable> mount_watch() = 0;
};

}  // namespace netnsd
