// Kernel adapters against real namespaces and devices.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <memory>
#include <set>

#include "kernel/kernel_host.h"
#include "kernel/mountinfo.h"
#include "kernel/netns.h"
#include "kernel/procfs.h"
#include "kernel/rtnl.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using testing::HeldNetns;
using testing::NamedNetns;
using testing::unique_name;

const Device* by_name(const std::vector<Device>& devices, const std::string& name) {
  auto it = std::find_if(devices.begin(), devices.end(), [&](const Device& d) { return d.name == name; });
  return it == devices.end() ? nullptr : &*it;
}

class Kernel : public ::testing::Test {
 protected:
  void SetUp() override { NETNSD_REQUIRE_ROOT(); }
};

TEST_F(Kernel, OpenNetnsChecksTypeAndInode) {
  NamedNetns ns(unique_name("k"));
  auto fd = open_netns("/run/netns/" + ns.name(), ns.inode());
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(*netns_inode(fd->get()), ns.inode());

  auto wrong = open_netns("/run/netns/" + ns.name(), ns.inode() + 1);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("changed namespace"), std::string::npos);
  auto uts = open_netns("/proc/self/ns/uts");
  ASSERT_FALSE(uts);
  EXPECT_NE(uts.error().message().find("not a network namespace"), std::string::npos);
  EXPECT_FALSE(open_netns("/etc/hostname"));
}

TEST_F(Kernel, RunInNetnsReturnsTheThreadHome) {
  NamedNetns ns(unique_name("k"));
  auto fd = open_netns("/run/netns/" + ns.name());
  ASSERT_TRUE(fd);
  const NetnsId home = *current_netns();
  auto inside = run_in_netns(fd->get(), [] { return *current_netns(); });
  ASSERT_TRUE(inside);
  EXPECT_EQ(*inside, ns.inode());
  EXPECT_EQ(*current_netns(), home);
}

TEST_F(Kernel, ListsLinksWithEveryField) {
  NamedNetns ns(unique_name("k"));
  ns.ip({"link", "add", "br0", "type", "bridge"});
  ns.ip({"link", "add", "va", "mtu", "1400", "type", "veth", "peer", "name", "vb"});
  ns.ip({"link", "set", "va", "master", "br0"});
  ns.ip({"link", "set", "va", "address", "02:00:00:00:00:0a"});
  ns.ip({"link", "set", "va", "up"});
  ns.ip({"link", "add", "mv0", "link", "vb", "type", "macvlan", "mode", "bridge"});
  ns.ip({"link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789"});

  auto fd = open_netns("/run/netns/" + ns.name());
  ASSERT_TRUE(fd);
  auto sock = RtnlSocket::open_in(fd->get());
  ASSERT_TRUE(sock) << sock.error().message();
  auto links = sock->list_links(ns.inode());
  ASSERT_TRUE(links) << links.error().message();
  ASSERT_EQ(links->size(), 6u);

  const Device* lo = by_name(*links, "lo");
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(lo->ifindex, 1u);
  EXPECT_EQ(lo->kind, "");
  const Device* br = by_name(*links, "br0");
  const Device* va = by_name(*links, "va");
  const Device* vb = by_name(*links, "vb");
  ASSERT_TRUE(br && va && vb);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(va->kind, "veth");
  EXPECT_EQ(va->mtu, 1400u);
  EXPECT_EQ(va->mac, "02:00:00:00:00:0a");
  EXPECT_TRUE(va->up);
  EXPECT_FALSE(vb->up);
  EXPECT_EQ(va->master, br->ifindex);
  EXPECT_FALSE(vb->master);
  ASSERT_TRUE(va->peer);
  EXPECT_EQ(va->peer->ifindex, vb->ifindex);
  EXPECT_EQ(va->peer->netns, ns.inode()) << "a peer in the same namespace";
  EXPECT_FALSE(va->peer->nsid);
  EXPECT_EQ(by_name(*links, "mv0")->kind, "macvlan");
  EXPECT_FALSE(by_name(*links, "mv0")->peer) << "only veths have peers";
  EXPECT_EQ(by_name(*links, "vx0")->kind, "vxlan");
}

TEST_F(Kernel, NsidOfAndPeerResolutionAcrossNamespaces) {
  NamedNetns a(unique_name("ka"));
  HeldNetns b;
  a.ip({"link", "add", "x0", "type", "veth", "peer", "name", "y0", "netns", b.target()});

  KernelHost host;
  auto fa = host.open_netns("/run/netns/" + a.name(), a.inode());
  auto fb = host.open_netns("/proc/" + std::to_string(b.pid()) + "/ns/net", b.inode());
  ASSERT_TRUE(fa && fb);
  NamespaceHandle ha{std::move(fa.value()), "a"}, hb{std::move(fb.value()), "b"};
  auto la = host.list_links(ha, a.inode());
  auto lb = host.list_links(hb, b.inode());
  ASSERT_TRUE(la && lb);
  const Device* x0 = by_name(*la, "x0");
  ASSERT_TRUE(x0 && x0->peer && x0->peer->nsid);
  auto ids = host.nsids(ha, {&hb});
  ASSERT_TRUE(ids);
  EXPECT_EQ((*ids)[0], *x0->peer->nsid) << "the nsid the link reports is b's id in a";
}

TEST_F(Kernel, ScanTasksSeesAProcessHeldNamespace) {
  HeldNetns held;
  auto walked = scan_tasks();
  ASSERT_TRUE(walked) << walked.error().message();
  TaskScan scan = *walked;
  ASSERT_TRUE(scan.count(held.inode()));
  EXPECT_GE(scan[held.inode()].pids, 1u);
  EXPECT_NE(scan[held.inode()].task_path.find("/ns/net"), std::string::npos);
  EXPECT_TRUE(scan.count(testing::host_netns()));
  auto fd = open_netns(scan[held.inode()].task_path, held.inode());
  EXPECT_TRUE(fd) << fd.error().message();
}

TEST_F(Kernel, MountinfoSeesIpNetnsAddAndDel) {
  std::string name = unique_name("km");
  std::uint64_t inode = 0;
  {
    NamedNetns ns(name);
    inode = ns.inode();
    auto mounts = read_netns_mounts();
    ASSERT_TRUE(mounts);
    auto it = std::find_if(mounts->begin(), mounts->end(), [&](const NetnsMount& m) { return m.netns == inode; });
    ASSERT_NE(it, mounts->end());
    EXPECT_EQ(mount_name(it->mount_point), name);
  }
  auto after = read_netns_mounts();
  ASSERT_TRUE(after);
  EXPECT_TRUE(std::none_of(after->begin(), after->end(), [&](const NetnsMount& m) { return m.netns == inode; }));
}

TEST_F(Kernel, MountinfoIsReadWholeEvenWhenItSpansManyPages) {
  std::vector<std::unique_ptr<NamedNetns>> many;
  for (int i = 0; i < 120; ++i) many.push_back(std::make_unique<NamedNetns>(unique_name("kp")));
  auto mounts = read_netns_mounts();
  ASSERT_TRUE(mounts);
  std::set<NetnsId> seen;
  for (const NetnsMount& m : *mounts) seen.insert(m.netns);
  for (const auto& ns : many) EXPECT_TRUE(seen.count(ns->inode())) << ns->name();
}

TEST_F(Kernel, ScanTasksFailsRatherThanReturnAPartialScan) {
  auto missing = scan_tasks("/nonexistent-proc");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ENOENT);
}

}  // namespace
}  // namespace netnsd
