// The BPF pipeline for real: the skeleton loads, its tracepoint program
// attaches, and a task cloned into a new network namespace is reported with
// the right inodes.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

TEST(Bpf, AnOrdinaryForkIsNotReported) {
  NETNSD_REQUIRE_ROOT();
  std::vector<NetnsEvent> events;
  auto source = NetnsEventSource::create({0, testing::host_netns()}, [&](const NetnsEvent& e) { events.push_back(e); });
  ASSERT_TRUE(source) << source.error().message();
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE((*source)->poll(200));
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
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*source)->poll(100));
  for (const NetnsEvent& e : events) {
    // The child's own exit is its doing, not ours: only the fork is filtered.
    if (e.tgid == static_cast<std::uint32_t>(child)) EXPECT_EQ(e.kind, NetnsEventKind::exit);
  }
}

}  // namespace
}  // namespace netnsd
