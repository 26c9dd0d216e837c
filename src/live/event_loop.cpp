#include "live/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>

namespace netnsd {

namespace {
constexpr EventLoop::WatchId kWakeId = 0;  // epoll data of the eventfd
constexpr int kMaxEvents = 64;
}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create(const Clock& clock) {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return Error::os("epoll_create1");
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Error::os("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) return Error::os("epoll_ctl eventfd");
  return std::unique_ptr<EventLoop>(new EventLoop(clock, std::move(epoll), std::move(wake)));
}

EventLoop::~EventLoop() = default;

Result<EventLoop::WatchId> EventLoop::watch(int fd, std::uint32_t events, Handler handler) {
  WatchId id = next_id_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return Error::os("epoll_ctl add");
  watches_.emplace(id, Watch{fd, events, false, std::make_shared<Handler>(std::move(handler))});
  return id;
}

void EventLoop::unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  if (!it->second.paused) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  watches_.erase(it);
}

void EventLoop::pause(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second.paused) return;
  // Out of the set, not merely without events: epoll reports an error
  // condition (a netlink socket's ENOBUFS) whatever the mask says.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd, nullptr);
  it->second.paused = true;
}

void EventLoop::resume(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end() || !it->second.paused) return;
  epoll_event ev{};
  ev.events = it->second.events;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, it->second.fd, &ev) == 0) it->second.paused = false;
}

void EventLoop::set_interest(WatchId id, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  // ENOENT when paused or unwatched: then it stays out of the set.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  ssize_t n = ::write(wake_.get(), &one, sizeof one);
  (void)n;  // a full counter still wakes the loop
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    // After run() has returned nothing would ever run it: `task` is dropped
    // (after the lock is released).
    if (stopped_) return;
    posted_.push_back(std::move(task));
  }
  wake();
}

void EventLoop::post_after(std::chrono::milliseconds delay, Task task) {
  {
    std::lock_guard lock(mutex_);
    timers_.emplace(clock_.steady() + delay, std::move(task));
  }
  wake();
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
}

bool EventLoop::sync() {
  if (on_loop_thread()) return false;  // it would wait for itself
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ran = done->get_future();
  post([done = std::move(done)] { done->set_value(); });  // the task owns the promise
  // A loop that stops before running the task drops it: the promise breaks.
  try {
    ran.get();
    return true;
  } catch (const std::future_error&) {
    return false;
  }
}

void EventLoop::run_due() {
  std::vector<Task> due;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.steady();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      due.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    for (Task& task : posted_) due.push_back(std::move(task));
    posted_.clear();
  }
  for (Task& task : due) task();
}

void EventLoop::run() {
  loop_thread_ = std::this_thread::get_id();
  epoll_event events[kMaxEvents];
  for (;;) {
    int timeout_ms = -1;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      if (!posted_.empty()) {
        timeout_ms = 0;
      } else if (!timers_.empty()) {
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first - clock_.steady());
        timeout_ms = static_cast<int>(std::max<std::int64_t>(0, wait.count()));
      }
    }
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      WatchId id = events[i].data.u64;
      if (id == kWakeId) {
        std::uint64_t count;
        while (::read(wake_.get(), &count, sizeof count) > 0) {
        }
        continue;
      }
      // A handler earlier in this batch may have unwatched this one.
      auto it = watches_.find(id);
      if (it == watches_.end()) continue;
      std::shared_ptr<Handler> handler = it->second.handler;
      (*handler)(events[i].events);
    }
    run_due();
  }
  std::vector<Task> dropped;
  std::multimap<SteadyTime, Task> dropped_timers;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    dropped.swap(posted_);
    dropped_timers.swap(timers_);
  }
  loop_thread_ = {};
}

}  // namespace netnsd
