#include "live/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <thread>

#include "fakes.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

void signal(int fd) {
  std::uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

// A loop running on its own thread for the test's lifetime.
class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = EventLoop::create(clock_);
    ASSERT_TRUE(made) << made.error().message();
    loop_ = std::move(made.value());
    thread_ = std::thread([this] { loop_->run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      loop_->stop();
      thread_.join();
    }
  }
  // Runs `fn` on the loop thread and waits for it.
  template <class F>
  void on_loop(F fn) {
    loop_->post(std::move(fn));
    ASSERT_TRUE(loop_->sync());
  }

  FakeClock clock_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
};

TEST_F(EventLoopTest, PostedTasksRunOnTheLoopThreadInOrder) {
  std::vector<int> order;
  bool on_thread = true;
  for (int i = 0; i < 5; ++i) {
    loop_->post([&, i] {
      order.push_back(i);
      on_thread = on_thread && loop_->on_loop_thread();
    });
  }
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(on_thread);
  EXPECT_FALSE(loop_->on_loop_thread());
}

TEST_F(EventLoopTest, TimersFollowTheClockNotTheWall) {
  std::vector<std::string> ran;
  loop_->post_after(100ms, [&] { ran.push_back("b"); });
  loop_->post_after(50ms, [&] { ran.push_back("a"); });
  loop_->post_after(1s, [&] { ran.push_back("c"); });
  std::this_thread::sleep_for(150ms);  // real time passes, the clock does not
  ASSERT_TRUE(loop_->sync());
  EXPECT_TRUE(ran.empty());
  clock_.advance(100ms);
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(ran, (std::vector<std::string>{"a", "b"})) << "due timers run in the order they fall due";
  clock_.advance(900ms);
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(ran.size(), 3u);
}

TEST_F(EventLoopTest, DueTimersRunBeforeTasksPostedWithThem) {
  std::vector<std::string> ran;
  loop_->post_after(10ms, [&] { ran.push_back("timer"); });
  clock_.advance(10ms);
  loop_->post([&] { ran.push_back("task"); });
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(ran, (std::vector<std::string>{"timer", "task"}));
}

TEST_F(EventLoopTest, WatchedDescriptorsCallTheirHandlerUntilUnwatched) {
  Fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::atomic<int> calls{0};
  EventLoop::WatchId id = 0;
  on_loop([&] {
    auto watched = loop_->watch(efd.get(), EPOLLIN, [&](std::uint32_t events) {
      EXPECT_TRUE(events & EPOLLIN);
      std::uint64_t n;
      ASSERT_EQ(::read(efd.get(), &n, sizeof n), static_cast<ssize_t>(sizeof n));
      ++calls;
    });
    ASSERT_TRUE(watched);
    id = *watched;
  });
  signal(efd.get());
  ASSERT_TRUE(testing::eventually([&] { return calls == 1; }));
  signal(efd.get());
  ASSERT_TRUE(testing::eventually([&] { return calls == 2; }));
  on_loop([&] { loop_->unwatch(id); });
  signal(efd.get());
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(calls, 2) << "an unwatched descriptor is not reported";
}

TEST_F(EventLoopTest, AHandlerCanUnwatchAnotherReadyInTheSameBatch) {
  Fd a(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Fd b(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  int a_calls = 0, b_calls = 0;
  EventLoop::WatchId ida = 0, idb = 0;
  on_loop([&] {
    // Whichever runs first unwatches the other: exactly one handler runs.
    ida = *loop_->watch(a.get(), EPOLLIN, [&](std::uint32_t) {
      ++a_calls;
      loop_->unwatch(ida);
      loop_->unwatch(idb);
    });
    idb = *loop_->watch(b.get(), EPOLLIN, [&](std::uint32_t) {
      ++b_calls;
      loop_->unwatch(ida);
      loop_->unwatch(idb);
    });
    // Both ready before the loop waits again: one epoll batch.
    signal(a.get());
    signal(b.get());
  });
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(loop_->sync());
  EXPECT_EQ(a_calls + b_calls, 1);
}

TEST_F(EventLoopTest, SyncAfterStopReturnsFalseInsteadOfWaiting) {
  loop_->stop();
  thread_.join();
  EXPECT_FALSE(loop_->sync());
  bool ran = false;
  loop_->post([&] { ran = true; });
  EXPECT_FALSE(ran);
}

TEST_F(EventLoopTest, StopEndsRunWithTimersPending) {
  std::atomic<bool> ran{false};
  loop_->post_after(1h, [&] { ran = true; });
  loop_->stop();
  thread_.join();  // returns although a timer is pending
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace netnsd
