// The BPF pipeline for real: the skeleton loads, its tracepoint program
// attaches, and a task cloned into a new network namespace is reported with
// the right inodes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "kernel/bpf_events.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

// clone(CLONE_NEWNET) a child that reports its namespace inode and exits.
pid_t clone_into_new_netns(std::uint64_t* child_netns) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid == 0) {
    struct stat st {};
    ::stat("/proc/self/ns/net", &st);
    std::uint64_t ino = st.st_ino;
    ssize_t n = ::write(pipefd[1], &ino, sizeof ino);
    ::_exit(n == sizeof ino ? 0 : 1);
  }
  ::close(pipefd[1]);
  if (pid > 0) {
    ssize_t n = ::read(pipefd[0], child_netns, sizeof *child_netns);
    if (n != sizeof *child_netns) *child_netns = 0;
    ::waitpid(pid, nullptr, 0);
  }
  ::close(pipefd[0]);
  return pid;
}

TEST(Bpf, ForkIntoANewNetnsIsReported) {
  NETNSD_REQUIRE_ROOT();
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();

  std::uint64_t child_netns = 0;
  pid_t child = clone_into_new_netns(&child_netns);
  ASSERT_GT(child, 0);
  ASSERT_NE(child_netns, 0u);

  const NetnsEvent* seen = nullptr;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*source)->poll(100));
    for (const NetnsEvent& e : events) {
      if (e.tgid == static_cast<std::uint32_t>(child) && e.kind == NetnsEventKind::fork) seen = &e;
    }
  }
  ASSERT_NE(seen, nullptr) << "no event for pid " << child << " among " << events.size();
  EXPECT_EQ(seen->kind, NetnsEventKind::fork);
  EXPECT_EQ(seen->tid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(seen->netns, child_netns);
  EXPECT_EQ(seen->prev_netns, testing::host_netns());
  EXPECT_GE((*source)->counters().events, 1u);
  EXPECT_EQ((*source)->counters().ringbuf_drops, 0u);
}

// Polls until an event of `kind` for `pid` has arrived (or 5 s pass).
bool wait_for(NetnsEventSource& source, const std::vector<NetnsEvent>& events, pid_t pid, NetnsEventKind kind) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(source.poll(50));
    for (const NetnsEvent& e : events) {
      if (e.tgid == static_cast<std::uint32_t>(pid) && e.kind == kind) return true;
    }
  }
  return false;
}

TEST(Bpf, AnOrdinaryForkIsNotReported) {
  NETNSD_REQUIRE_ROOT();
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({0, testing::host_netns()}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  // A fork into a new namespace afterwards is reported: once it has arrived,
  // anything about the ordinary fork would have arrived too.
  std::uint64_t child_netns = 0;
  pid_t control = clone_into_new_netns(&child_netns);
  ASSERT_GT(control, 0);
  ASSERT_TRUE(wait_for(**source, events, control, NetnsEventKind::fork)) << "events do not flow at all";
  for (const NetnsEvent& e : events) {
    EXPECT_NE(e.tgid, static_cast<std::uint32_t>(pid)) << "kind " << static_cast<int>(e.kind);
  }
}

TEST(Bpf, WhatTheIgnoredProcessCausesIsFilteredInTheKernel) {
  NETNSD_REQUIRE_ROOT();
  std::vector<NetnsEvent> events;
  // rodata set before load: this process plays netnsd.
  auto source = NetnsEventSource::create({::getpid(), 0}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  std::uint64_t child_netns = 0;
  pid_t child = clone_into_new_netns(&child_netns);
  ASSERT_GT(child, 0);
  ASSERT_NE(child_netns, 0u);
  // The child's own exit is its doing, not ours: it is reported, and it
  // comes after the fork that is not.
  ASSERT_TRUE(wait_for(**source, events, child, NetnsEventKind::exit)) << "the child's exit was not reported";
  for (const NetnsEvent& e : events) {
    if (e.tgid == static_cast<std::uint32_t>(child)) {
      EXPECT_EQ(e.kind, NetnsEventKind::exit) << "the fork netnsd caused was reported";
    }
  }
}

// Runs `body` in a forked child that reports one inode back; returns the
// child's pid and fills `reported`.
template <class F>
pid_t in_child(std::uint64_t* reported, F body) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::uint64_t value = body();
    ssize_t n = ::write(pipefd[1], &value, sizeof value);
    ::_exit(n == sizeof value ? 0 : 1);
  }
  ::close(pipefd[1]);
  if (::read(pipefd[0], reported, sizeof *reported) != sizeof *reported) *reported = 0;
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

std::uint64_t self_netns() {
  struct stat st {};
  ::stat("/proc/self/ns/net", &st);
  return st.st_ino;
}

std::vector<NetnsEvent> events_of(NetnsEventSource& source, std::vector<NetnsEvent>& all, pid_t pid,
                                  NetnsEventKind kind) {
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(source.poll(50));
  std::vector<NetnsEvent> out;
  for (const NetnsEvent& e : all) {
    if (e.tgid == static_cast<std::uint32_t>(pid) && e.kind == kind) out.push_back(e);
  }
  return out;
}

TEST(Bpf, UnshareOfTheNetworkNamespaceIsReportedButOfOtherTypesNot) {
  NETNSD_REQUIRE_ROOT();
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({0, testing::host_netns()}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  std::uint64_t child_netns = 0;
  pid_t pid = in_child(&child_netns, [] {
    if (::unshare(CLONE_NEWNS) != 0) return std::uint64_t{0};   // mount namespace alone: not reported
    if (::unshare(CLONE_NEWUTS) != 0) return std::uint64_t{0};  // neither is this
    if (::unshare(CLONE_NEWNET) != 0) return std::uint64_t{0};
    return self_netns();
  });
  ASSERT_GT(pid, 0);
  ASSERT_NE(child_netns, 0u);
  auto unshares = events_of(**source, events, pid, NetnsEventKind::unshare);
  ASSERT_EQ(unshares.size(), 1u);
  EXPECT_EQ(unshares[0].netns, child_netns);
  EXPECT_EQ(unshares[0].prev_netns, testing::host_netns());
  EXPECT_TRUE(events_of(**source, events, pid, NetnsEventKind::setns).empty());
  // It then exited outside the host namespace.
  auto exits = events_of(**source, events, pid, NetnsEventKind::exit);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].netns, child_netns);
}

TEST(Bpf, SetnsIntoAnotherNetworkNamespaceIsReportedButIntoOtherTypesNot) {
  NETNSD_REQUIRE_ROOT();
  testing::NamedNetns target(testing::unique_name("bs"));
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({0, testing::host_netns()}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  const std::string path = "/run/netns/" + target.name();
  std::uint64_t child_netns = 0;
  pid_t pid = in_child(&child_netns, [&] {
    int uts = ::open("/proc/self/ns/uts", O_RDONLY);
    int same_net = ::open("/proc/self/ns/net", O_RDONLY);
    int net = ::open(path.c_str(), O_RDONLY);
    if (uts < 0 || net < 0 || same_net < 0) return std::uint64_t{0};
    if (::setns(uts, CLONE_NEWUTS) != 0) return std::uint64_t{0};       // another type: not reported
    if (::setns(same_net, CLONE_NEWNET) != 0) return std::uint64_t{0};  // the same netns: not reported
    if (::setns(net, CLONE_NEWNET) != 0) return std::uint64_t{0};
    return self_netns();
  });
  ASSERT_GT(pid, 0);
  ASSERT_EQ(child_netns, target.inode());
  auto setns_events = events_of(**source, events, pid, NetnsEventKind::setns);
  ASSERT_EQ(setns_events.size(), 1u);
  EXPECT_EQ(setns_events[0].netns, target.inode());
  EXPECT_EQ(setns_events[0].prev_netns, testing::host_netns());
  EXPECT_EQ((*source)->counters().inflight_drops, 0u);
}

TEST(Bpf, AThreadThatLeftItsProcessesNamespaceReportsItsExit) {
  NETNSD_REQUIRE_ROOT();
  testing::NamedNetns target(testing::unique_name("bt"));
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({0, testing::host_netns()}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  const std::string path = "/run/netns/" + target.name();
  std::uint64_t ok = 0;
  pid_t pid = in_child(&ok, [&] {
    // One thread joins the target namespace and exits; one stays home and
    // exits: only the first is news. The process itself stays in the host.
    std::thread away([&] {
      int fd = ::open(path.c_str(), O_RDONLY);
      if (fd >= 0) ::setns(fd, CLONE_NEWNET);
    });
    away.join();
    std::thread home([] {});
    home.join();
    return std::uint64_t{1};
  });
  ASSERT_EQ(ok, 1u);
  auto exits = events_of(**source, events, pid, NetnsEventKind::exit);
  ASSERT_EQ(exits.size(), 1u) << "exactly the thread that left";
  EXPECT_EQ(exits[0].netns, target.inode());
  EXPECT_NE(exits[0].tid, static_cast<std::uint32_t>(pid));
}

}  // namespace
}  // namespace netnsd
