// Admission: at most `running` dumps build at once and `waiting` more wait in
// line; anything beyond is turned away at once (503 with Retry-After). A dump
// holds a lot of memory and a core for a while: this bounds both, whatever
// clients send.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>

namespace netnsd {

// Threading: every method from any thread.
class Admission {
 public:
  Admission(std::size_t running, std::size_t waiting) : max_running_(running), max_waiting_(waiting) {}

  // A place among the running; given back when it goes out of scope.
  class Ticket {
   public:
    explicit Ticket(Admission* owner) : owner_(owner) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (owner_) owner_->leave();
    }

   private:
    Admission* owner_;
  };

  // Waits for a place while fewer than `waiting` others wait; nullopt at once
  // when the line is full.
  std::optional<Ticket> enter() {
    std::unique_lock lock(mutex_);
    if (running_ >= max_running_ && waiting_ >= max_waiting_) {
      ++refused_;
      return std::nullopt;
    }
    ++waiting_;
    cv_.wait(lock, [this] { return running_ < max_running_; });
    --waiting_;
    ++running_;
    ++admitted_;
    return Ticket(this);
  }

  struct Counts {
    std::size_t running = 0;
    std::size_t waiting = 0;
    std::uint64_t admitted = 0;
    std::uint64_t refused = 0;
  };
  Counts counts() const {
    std::lock_guard lock(mutex_);
    return {running_, waiting_, admitted_, refused_};
  }

 private:
  void leave() {
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    cv_.notify_one();
  }

  const std::size_t max_running_;
  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t running_ = 0;
  std::size_t waiting_ = 0;
  std::uint64_t admitted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace netnsd
