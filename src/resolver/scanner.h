// Scanner: a full pass over the host that brings the resolver in line with it.
#pragma once

#include <chrono>
#include <cstddef>

#include "resolver/host.h"
#include "resolver/resolver.h"

namespace netnsd {

struct ScanReport {
  std::size_t namespaces = 0;        // distinct namespaces with a task or a bind mount
  std::size_t captured = 0;          // handles newly captured
  std::size_t capture_failures = 0;  // namespaces seen but not opened (task gone, EPERM, ...)
  std::size_t link_failures = 0;     // namespaces whose links could not be listed
  bool mounts_ok = true;             // mountinfo was read (presence applied only then)
  std::chrono::microseconds took{0};
};

// Threading: scan() may run on any one thread at a time; it takes the
// resolver's lock only for short, I/O-free updates.
class Scanner {
 public:
  Scanner(Resolver& resolver, HostView& host) : resolver_(resolver), host_(host) {}

  // Discovers namespaces from /proc tasks and nsfs bind mounts, captures a
  // handle for each new one, refreshes presence (which starts or stops the
  // lonely clock), then re-lists every cached namespace's links and resolves
  // veth peers.
  ScanReport scan();

 private:
  Resolver& resolver_;
  HostView& host_;
};

}  // namespace netnsd
