// The Tracker in-process, on the real kernel: readiness, and recovery when a
// namespace's link socket overflows.
#include "live/tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "daemon.h"
#include "kernel/kernel_host.h"
#include "kernel/netns.h"
#include "kernel/rtnl.h"
#include "live/kernel_sources.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::NamedNetns;
using testing::unique_name;

TEST(LinkMonitor, AnOverflowIsReportedAsEnobufs) {
  NETNSD_REQUIRE_ROOT();
  NamedNetns ns(unique_name("ov"));
  auto fd = open_netns("/run/netns/" + ns.name());
  ASSERT_TRUE(fd);
  auto sock = RtnlSocket::open_in(fd->get());
  ASSERT_TRUE(sock);
  ASSERT_TRUE(sock->subscribe_links(1));  // the kernel's minimum buffer
  for (int i = 0; i < 10; ++i) {
    const std::string n = std::to_string(i);  // appended, not "o" + ...: GCC 12 -Wrestrict at -O3
    ns.ip({"link", "add", std::string("o").append(n), "type", "veth", "peer", "name", std::string("p").append(n)});
  }
  int seen = 0;
  Status st = sock->read_link_events([&](const LinkEvent&) { ++seen; }, ns.inode());
  ASSERT_FALSE(st) << "20 notifications fit in the smallest buffer?";
  EXPECT_EQ(st.error().code, ENOBUFS);
  // The queue was drained, and the socket stays usable after the overflow.
  ns.ip({"link", "set", "o0", "up"});
  std::this_thread::sleep_for(50ms);
  std::vector<LinkEvent> after;
  EXPECT_TRUE(sock->read_link_events([&](const LinkEvent& e) { after.push_back(e); }, ns.inode()));
  EXPECT_TRUE(std::any_of(after.begin(), after.end(), [](const LinkEvent& e) { return e.device.name == "o0"; }));
}

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
  SystemClock clock_;
  Resolver resolver_{ResolverConfig{}, clock_};
  KernelHost host_;
  KernelSources sources_;
};

TEST_F(TrackerTest, NotReadyUntilTheInitialScanAndTheMountWatchRun) {
  TrackerConfig config;
  config.resync_interval = 0ms;
  Tracker tracker(resolver_, host_, sources_, clock_, config);
  auto before = tracker.not_ready_reasons();
  EXPECT_NE(std::find(before.begin(), before.end(), "initial scan in progress"), before.end());
  ASSERT_TRUE(tracker.start());
  EXPECT_TRUE(eventually([&] { return tracker.not_ready_reasons().empty(); }));
  EXPECT_TRUE(resolver_.stats().ready);
}

TEST_F(TrackerTest, AnOverflowedNamespaceIsRedumpedAndCounted) {
  NamedNetns ns(unique_name("tr"));
  TrackerConfig config;
  config.resync_interval = 0ms;
  config.link_rcvbuf = 1;  // overflow on the first burst
  Tracker tracker(resolver_, host_, sources_, clock_, config);
  ASSERT_TRUE(tracker.start());
  ASSERT_TRUE(eventually([&] { return tracker.not_ready_reasons().empty() && resolver_.has_handle(ns.inode()); }));

  // A burst bigger than the buffer, in one command (ip -batch).
  testing::TempDir tmp;
  std::string batch = tmp.path() + "/links";
  {
    FILE* f = std::fopen(batch.c_str(), "w");
    for (int i = 0; i < 40; ++i) std::fprintf(f, "link add b%d type veth peer name c%d\n", i, i);
    std::fclose(f);
  }
  testing::must({"ip", "-n", ns.name(), "-batch", batch});

  auto names = [&] {
    std::vector<std::string> out;
    if (auto view = resolver_.find(ns.inode())) {
      for (const Device& d : view->devices) out.push_back(d.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_TRUE(eventually([&] { return names().size() == 81; })) << names().size() << " devices";
  EXPECT_GT(resolver_.stats().live.netlink_resyncs, 0u) << "the overflow was not noticed";
  // The cache equals the kernel.
  auto fd = open_netns("/run/netns/" + ns.name());
  ASSERT_TRUE(fd) << fd.error().message();
  auto sock = RtnlSocket::open_in(fd->get());
  ASSERT_TRUE(sock) << sock.error().message();
  auto links = sock->list_links(ns.inode());
  ASSERT_TRUE(links) << links.error().message();
  std::vector<std::string> kernel;
  for (const Device& d : *links) kernel.push_back(d.name);
  std::sort(kernel.begin(), kernel.end());
  EXPECT_EQ(names(), kernel);
}

}  // namespace
}  // namespace netnsd
