// EventLoop: one thread, one epoll set. Descriptors with handlers, tasks
// posted from any thread, and one-shot timers.
//
// Everything that changes the cache in the live daemon runs on this thread,
// so event sources, rescans and lonely flushes never race each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;
  using Task = std::function<void()>;
  using Clock = std::chrono::steady_clock;
  using WatchId = std::uint64_t;

  static Result<std::unique_ptr<EventLoop>> create();
  ~EventLoop();

  // Loop thread only (or before run()). The handler gets the epoll event
  // mask. The descriptor stays owned by the caller, who must unwatch() it
  // before closing it.
  Result<WatchId> watch(int fd, std::uint32_t events, Handler handler);
  void unwatch(WatchId id);

  // Any thread.
  void post(Task task);
  void post_after(std::chrono::milliseconds delay, Task task);
  void stop();

  // Runs handlers, tasks and timers until stop(). Returns on the calling thread.
  void run();
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

 private:
  EventLoop(Fd epoll, Fd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  void wake();
  void run_due();

  struct Watch {
    int fd;
    std::shared_ptr<Handler> handler;
  };

  Fd epoll_;
  Fd wake_;  // eventfd: posted tasks and stop()
  WatchId next_id_ = 1;
  std::unordered_map<WatchId, Watch> watches_;  // loop thread only

  std::mutex mutex_;  // guards the queues below
  std::vector<Task> posted_;
  std::multimap<Clock::time_point, Task> timers_;
  bool stopping_ = false;
  std::thread::id loop_thread_;
};

}  // namespace netnsd
