// NetnsEventSource: netnsd's BPF programs, loaded, attached, and read
// through their ring buffer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "resolver/model.h"
#include "util/result.h"

struct netns_events;
struct ring_buffer;

namespace netnsd {

enum class NetnsEventKind : std::uint32_t { fork = 1, unshare = 2, setns = 3, exit = 4 };

// A task entered a network namespace it was not in (fork, unshare, setns), or
// a process outside the host namespace exited (exit: netns is where it was).
struct NetnsEvent {
  NetnsEventKind kind = NetnsEventKind::fork;
  std::uint32_t tgid = 0;
  std::uint32_t tid = 0;
  NetnsId netns = 0;       // the namespace it is in now
  NetnsId prev_netns = 0;  // where it (or its parent) was
  std::uint64_t timestamp_ns = 0;
};

struct NetnsEventCounters {
  std::uint64_t events = 0;          // records the programs submitted
  std::uint64_t ringbuf_drops = 0;   // records lost to a full ring buffer
  std::uint64_t inflight_drops = 0;  // unshare/setns calls that could not be tracked
};

struct NetnsEventOptions {
  pid_t ignored_tgid = 0;  // netnsd itself: what it causes is not reported (0: report all)
  NetnsId host_netns = 0;  // exits in this namespace are not reported
};

// Lifecycle: open -> set rodata -> load -> attach, all in create(); the
// destructor detaches and frees everything. Threading: poll() from one
// thread; counters() from any.
class NetnsEventSource {
 public:
  using Callback = std::function<void(const NetnsEvent&)>;

  // Loads and attaches the programs, filtering in the kernel as `options` say.
  static Result<std::unique_ptr<NetnsEventSource>> create(NetnsEventOptions options, Callback callback);
  ~NetnsEventSource();

  // Waits up to timeout_ms for events and delivers them to the callback.
  // Returns the number of events handled.
  Result<int> poll(int timeout_ms);
  // For an external epoll loop: a descriptor that turns readable when events
  // are waiting, and a non-blocking drain.
  int ready_fd() const;
  Result<int> consume();
  NetnsEventCounters counters() const;

 private:
  struct SkeletonDeleter {
    void operator()(netns_events* skel) const;
  };
  struct RingBufferDeleter {
    void operator()(ring_buffer* rb) const;
  };

  NetnsEventSource() = default;
  static int on_sample(void* ctx, void* data, std::size_t size);

  Callback callback_;
  std::unique_ptr<netns_events, SkeletonDeleter> skel_;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring_;  // declared last: freed first
};

}  // namespace netnsd
