// EventLoop: one thread, one epoll set. Descriptors with handlers, tasks
// posted from any thread, and one-shot timers.
//
// Everything that changes the cache in the live daemon runs on this thread,
// so event sources, rescans and lonely flushes never race each other.
// Timers follow the injected Clock's steady time, so a fake clock drives
// them in tests (advance it, then post() anything to wake the loop).
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

#include "util/clock.h"
#include "util/fd.h"
#include "util/result.h"

namespace netnsd {

class EventLoop {
 public:
  using Handler = std::function<void(std::uint32_t events)>;
  using Task = std::function<void()>;
  using WatchId = std::uint64_t;

  // `clock` must outlive the loop.
  static Result<std::unique_ptr<EventLoop>> create(const Clock& clock);
  ~EventLoop();

  // Loop thread only (or before run()). The handler gets the epoll event
  // mask. The descriptor stays owned by the caller, who must unwatch() it
  // before closing it.
  Result<WatchId> watch(int fd, std::uint32_t events, Handler handler);
  void unwatch(WatchId id);
  // Loop thread only. Stops reporting a watched descriptor (it stays
  // watched) until resume(): for a reader that must wait for another
  // thread to let go of the descriptor, which then wakes it.
  void pause(WatchId id);
  void resume(WatchId id);
  // Any thread. What a watched descriptor (`fd`, watched as `id`) reports:
  // 0 for nothing but errors, or its events again. The kernel's set alone
  // changes, not the loop's books, and a paused or unwatched one is left
  // as it is: for another thread that briefly uses the descriptor itself,
  // so that its own traffic does not wake the loop.
  void set_interest(WatchId id, int fd, std::uint32_t events);

  // Any thread. Timers that are due run first, then posted tasks, each in
  // the order given.
  void post(Task task);
  void post_after(std::chrono::milliseconds delay, Task task);
  void stop();
  // Waits until everything posted before this call, and every timer due by
  // the clock now, has run (not from the loop thread; false if the loop
  // stopped first).
  bool sync();

  // Runs handlers, tasks and timers until stop(). Returns on the calling thread.
  void run();
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

 private:
  EventLoop(const Clock& clock, Fd epoll, Fd wake) : clock_(clock), epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  void wake();
  void run_due();

  struct Watch {
    int fd;
    std::uint32_t events;
    bool paused;
    std::shared_ptr<Handler> handler;
  };

  const Clock& clock_;
  Fd epoll_;
  Fd wake_;  // eventfd: posted tasks and stop()
  WatchId next_id_ = 1;
  std::unordered_map<WatchId, Watch> watches_;  // loop thread only

  std::mutex mutex_;  // guards the queues below
  std::vector<Task> posted_;
  std::multimap<SteadyTime, Task> timers_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread::id loop_thread_;
};

}  // namespace netnsd
