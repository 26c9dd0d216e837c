// Fake event sources for the Tracker: eventfds the tracker's EventLoop
// watches like the real descriptors, and queues the test fills. The tracker
// runs for real, on its own threads; only the kernel is scripted.
#pragma once

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "live/sources.h"

namespace netnsd::testing {

// A queue of T with an eventfd that is readable while something waits.
template <class T>
class Channel {
 public:
  Channel() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  int fd() const { return fd_.get(); }

  void push(T item) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(item));
    signal();
  }
  // Everything waiting, and the descriptor made unreadable again.
  std::deque<T> take() {
    std::lock_guard lock(mutex_);
    std::uint64_t count;
    while (::read(fd_.get(), &count, sizeof count) > 0) {
    }
    return std::exchange(items_, {});
  }
  void signal() {
    std::uint64_t one = 1;
    if (::write(fd_.get(), &one, sizeof one) != sizeof one) std::abort();
  }

 protected:
  std::mutex mutex_;

 private:
  Fd fd_;
  std::deque<T> items_;
};

class FakeLinkChannel : public Channel<LinkEvent> {
 public:
  // The next read reports a loss (ENOBUFS) and drops what waits.
  void overflow() {
    {
      std::lock_guard lock(mutex_);
      overflowed_ = true;
    }
    signal();
  }
  bool take_overflow() {
    std::lock_guard lock(mutex_);
    return std::exchange(overflowed_, false);
  }
  std::atomic<bool> open{true};  // false once the tracker closed its monitor

 private:
  bool overflowed_ = false;
};

class FakeSources final : public LiveSources {
 public:
  bool namespace_events_fail = false;  // as without BTF or privilege
  NetnsEventCounters ebpf_counters;    // what counters() reports (set before events flow)

  // The eBPF side: queue an event for the tracker.
  void emit(const NetnsEvent& event) { events_->push(event); }
  // The link monitor of `netns` (the latest one opened); null if none was.
  std::shared_ptr<FakeLinkChannel> links(NetnsId netns) {
    std::lock_guard lock(mutex_);
    auto it = monitors_.find(netns);
    return it == monitors_.end() ? nullptr : it->second;
  }
  bool monitoring(NetnsId netns) {
    auto channel = links(netns);
    return channel && channel->open;
  }
  // Thread `tid` has really gone: its exit watch turns readable.
  void task_gone(pid_t tid) {
    std::lock_guard lock(mutex_);
    gone_.insert(tid);
    if (auto it = exit_fds_.find(tid); it != exit_fds_.end()) signal(it->second.get());
  }
  // The mount table changed.
  void mounts_changed() { signal(mount_fd_.get()); }
  int exit_watches() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(exit_fds_.size());
  }

  Result<std::unique_ptr<NamespaceEvents>> namespace_events(const NetnsEventOptions& options,
                                                            NamespaceEvents::Callback callback) override {
    if (namespace_events_fail) return Error::os("load BPF programs", EPERM);
    options_ = options;
    return std::unique_ptr<NamespaceEvents>(new Events(events_, std::move(callback), ebpf_counters));
  }
  Result<std::unique_ptr<LinkMonitor>> link_monitor(const NamespaceHandle&, NetnsId netns, int,
                                                    std::function<void()>) override {
    auto channel = std::make_shared<FakeLinkChannel>();
    {
      std::lock_guard lock(mutex_);
      monitors_[netns] = channel;
    }
    return std::unique_ptr<LinkMonitor>(new Monitor(channel));
  }
  Result<Fd> exit_watch(pid_t, pid_t tid) override {
    std::lock_guard lock(mutex_);
    if (gone_.count(tid)) return Error::os("pidfd_open", ESRCH);
    Fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    // The test keeps its own reference to the same eventfd to signal it.
    exit_fds_[tid] = Fd(::dup(fd.get()));
    return fd;
  }
  Result<Watchable> mount_watch() override {
    mount_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    // Edge-triggered: each signal is one change, as mountinfo's POLLPRI is.
    return Watchable{Fd(::dup(mount_fd_.get())), EPOLLIN | EPOLLET};
  }

  const NetnsEventOptions& options() const { return options_; }

 private:
  class Events final : public NamespaceEvents {
   public:
    Events(std::shared_ptr<Channel<NetnsEvent>> channel, Callback callback, NetnsEventCounters counters)
        : channel_(std::move(channel)), callback_(std::move(callback)), counters_(counters) {}
    int ready_fd() const override { return channel_->fd(); }
    Result<int> consume() override {
      int n = 0;
      for (const NetnsEvent& e : channel_->take()) {
        callback_(e);
        ++n;
      }
      return n;
    }
    NetnsEventCounters counters() const override { return counters_; }

   private:
    std::shared_ptr<Channel<NetnsEvent>> channel_;
    Callback callback_;
    NetnsEventCounters counters_;
  };

  class Monitor final : public LinkMonitor {
   public:
    explicit Monitor(std::shared_ptr<FakeLinkChannel> channel) : channel_(std::move(channel)) {}
    ~Monitor() override { channel_->open = false; }
    int fd() const override { return channel_->fd(); }
    Status read(const std::function<void(const LinkEvent&)>& on_event) override {
      auto waiting = channel_->take();
      if (channel_->take_overflow()) return Error::os("link notifications lost", ENOBUFS);
      for (const LinkEvent& e : waiting) on_event(e);
      return {};
    }

   private:
    std::shared_ptr<FakeLinkChannel> channel_;
  };

  static void signal(int fd) {
    std::uint64_t one = 1;
    if (::write(fd, &one, sizeof one) != sizeof one) std::abort();
  }

  std::mutex mutex_;
  std::shared_ptr<Channel<NetnsEvent>> events_ = std::make_shared<Channel<NetnsEvent>>();
  std::map<NetnsId, std::shared_ptr<FakeLinkChannel>> monitors_;
  std::map<pid_t, Fd> exit_fds_;
  std::set<pid_t> gone_;
  Fd mount_fd_;
  NetnsEventOptions options_;
};

}  // namespace netnsd::testing
