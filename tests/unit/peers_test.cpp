#include "resolver/peers.h"

#include <gtest/gtest.h>

#include "fakes.h"
#include "resolver/scanner.h"

namespace netnsd {
namespace {

using testing::FakeClock;
using testing::FakeHost;
using testing::plain;
using testing::veth;

HandlePtr fake_handle(FakeHost& host, NetnsId id) {
  auto fd = host.open_netns("/x", id);
  return std::make_shared<const NamespaceHandle>(NamespaceHandle{std::move(fd.value()), "/x"});
}

TEST(Peers, TheRulesForOneEnd) {
  Device lo = plain(1, "lo");
  Device same_ns = veth(3, "a", 4, std::nullopt, NetnsId{10});
  Device cross = veth(3, "a", 4, 2);
  EXPECT_FALSE(crosses_namespaces(lo));
  EXPECT_FALSE(crosses_namespaces(same_ns)) << "a peer in the same namespace has no nsid";
  EXPECT_TRUE(crosses_namespaces(cross));
  EXPECT_TRUE(peer_unresolved(cross));
  cross.peer->netns = 20;
  EXPECT_FALSE(peer_unresolved(cross));
  EXPECT_EQ(veth_key(3, 4), (std::uint64_t{3} << 32) | 4);
  EXPECT_NE(veth_key(3, 4), veth_key(4, 3)) << "the key is directed: an end and its partner differ";
}

TEST(Peers, AFreshListingInheritsOnlyTheSamePartner) {
  Device was = veth(3, "a", 4, 2);
  was.peer->netns = 20;
  Device now = veth(3, "a", 4, 2);
  inherit_peer(was, now);
  EXPECT_EQ(now.peer->netns, NetnsId{20});

  Device renumbered = veth(3, "a", 5, 2);  // another partner ifindex
  inherit_peer(was, renumbered);
  EXPECT_FALSE(renumbered.peer->netns);
  Device moved = veth(3, "a", 4, 7);  // the partner's namespace changed
  inherit_peer(was, moved);
  EXPECT_FALSE(moved.peer->netns);
}

TEST(Peers, OneQuestionToTheKernelPerNamespaceCoversEveryEnd) {
  // Namespace 10 has two ends whose partners live in 20 and 30.
  FakeHost host;
  Listings listings;
  listings[10] = {veth(2, "a", 7, 1), veth(3, "b", 8, 2)};
  listings[20] = {veth(7, "c", 2, 0)};
  listings[30] = {veth(8, "d", 3, 0)};
  std::map<NetnsId, HandlePtr> handles;
  for (NetnsId id : {10, 20, 30}) handles[id] = fake_handle(host, id);
  host.nsid_table[{10, 20}] = 1;
  host.nsid_table[{10, 30}] = 2;
  host.nsid_table[{20, 10}] = 0;
  host.nsid_table[{30, 10}] = 0;
  Listings targets;
  targets[10] = listings[10];
  resolve_peers(targets, listings, handles, host);
  EXPECT_EQ(targets[10][0].peer->netns, NetnsId{20});
  EXPECT_EQ(targets[10][1].peer->netns, NetnsId{30});
  EXPECT_EQ(host.nsid_queries, 2) << "20 and 30 asked about once, in one call";
}

TEST(Peers, TwoCandidatesWithTheSameNsidResolveNeither) {
  // A kernel that answered the same nsid for two namespaces would be lying;
  // better unresolved than wrong.
  FakeHost host;
  Listings listings;
  listings[10] = {veth(2, "a", 2, 5)};
  listings[20] = {veth(2, "b", 2, 1)};
  listings[30] = {veth(2, "c", 2, 1)};
  std::map<NetnsId, HandlePtr> handles;
  for (NetnsId id : {10, 20, 30}) handles[id] = fake_handle(host, id);
  host.nsid_table[{10, 20}] = 5;
  host.nsid_table[{10, 30}] = 5;
  Listings targets;
  targets[10] = listings[10];
  resolve_peers(targets, listings, handles, host);
  EXPECT_FALSE(targets[10][0].peer->netns);
}

TEST(Peers, CachedEndsAreLinkedBothWays) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  for (NetnsId id : {10, 20}) resolver.capture(id, {host.open_netns("/x", id).value(), "/x"}, Source::procfs);
  resolver.set_devices(10, {plain(1, "lo"), veth(7, "h0", 2, 0)});
  resolver.set_devices(20, {plain(1, "lo"), veth(2, "c0", 7, 4)});
  host.nsid_table[{20, 10}] = 4;
  EXPECT_EQ(resolve_cached_peers(resolver, host, 20), 1u);
  EXPECT_EQ(resolver.find(20)->devices[1].peer->netns, NetnsId{10});
  EXPECT_EQ(resolver.find(10)->devices[1].peer->netns, NetnsId{20}) << "the other end learns it too";
  EXPECT_TRUE(resolver.unresolved_links(10).empty());
  EXPECT_EQ(resolve_cached_peers(resolver, host, 20), 0u) << "nothing left to resolve";
}

Device stacked(std::uint32_t ifindex, const std::string& name, std::uint32_t lower, std::optional<std::int32_t> nsid) {
  Device d = plain(ifindex, name, "macvlan");
  d.lower = LinkRef{lower, std::nullopt, nsid};
  return d;
}

TEST(Peers, ADeviceStackedOnAnotherNamespacesLinkFindsThatNamespace) {
  // Namespace 20 holds a macvlan on ifindex 2 of the namespace it calls nsid
  // 0: the host (10). Namespace 30 also has an ifindex 2; only the kernel's
  // answer tells them apart.
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  for (NetnsId id : {10, 20, 30}) resolver.capture(id, {host.open_netns("/x", id).value(), "/x"}, Source::procfs);
  resolver.set_devices(10, {plain(1, "lo"), plain(2, "eth0")});
  resolver.set_devices(30, {plain(1, "lo"), plain(2, "eth0")});
  resolver.set_devices(20, {plain(1, "lo"), stacked(3, "mv0", 2, 0)});
  host.nsid_table[{20, 10}] = 0;
  host.nsid_table[{20, 30}] = 1;
  EXPECT_EQ(resolver.unresolved_links(20).size(), 1u);
  EXPECT_EQ(resolve_cached_peers(resolver, host, 20), 1u);
  EXPECT_EQ(resolver.find(20)->devices[1].lower->netns, NetnsId{10});
  EXPECT_TRUE(resolver.unresolved_links(20).empty());

  // A new listing of the same device keeps it; a device stacked elsewhere does not.
  resolver.set_devices(20, {plain(1, "lo"), stacked(3, "mv0", 2, 0)});
  EXPECT_EQ(resolver.find(20)->devices[1].lower->netns, NetnsId{10});
  resolver.upsert_device(20, stacked(3, "mv0", 2, 1));
  EXPECT_FALSE(resolver.find(20)->devices[1].lower->netns) << "nsid 1 is another namespace";
  EXPECT_EQ(resolve_cached_peers(resolver, host, 20), 1u);
  EXPECT_EQ(resolver.find(20)->devices[1].lower->netns, NetnsId{30});
}

TEST(Peers, ListingsResolveLowerLinksAgainstEachOther) {
  FakeHost host;
  Listings listings;
  listings[10] = {plain(1, "lo"), plain(4, "eth0")};
  listings[20] = {plain(1, "lo"), stacked(2, "ipvl0", 4, 3), veth(5, "v", 9, 3)};
  listings[30] = {veth(9, "w", 5, 0)};
  std::map<NetnsId, HandlePtr> handles;
  for (NetnsId id : {10, 20, 30}) handles[id] = fake_handle(host, id);
  host.nsid_table[{20, 10}] = 3;
  host.nsid_table[{20, 30}] = 7;
  Listings targets;
  targets[20] = listings[20];
  ASSERT_TRUE(has_unresolved_peers(targets));
  resolve_peers(targets, listings, handles, host);
  EXPECT_EQ(targets[20][1].lower->netns, NetnsId{10});
  EXPECT_FALSE(targets[20][2].peer->netns) << "the veth's nsid 3 is namespace 10, which has no partner end";
}

TEST(Peers, ResolvesEachVethEndToThePeerNamespace) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  // Host 10 has veth 7 <-> ifindex 2 in namespace 20 (host calls 20 nsid 0,
  // 20 calls the host nsid 0).
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.tasks[20] = {1, "/proc/2/task/2/ns/net", {}, {}};
  host.links[10] = {plain(1, "lo"), veth(7, "h0", 2, 0)};
  host.links[20] = {plain(1, "lo"), veth(2, "c0", 7, 0)};
  host.nsid_table[{10, 20}] = 0;
  host.nsid_table[{20, 10}] = 0;
  Scanner scanner(resolver, host);
  scanner.scan();
  auto h0 = resolver.find(10)->devices[1];
  ASSERT_TRUE(h0.peer);
  EXPECT_EQ(h0.peer->netns, NetnsId{20});
  EXPECT_EQ(h0.peer->ifindex, 2u);
  EXPECT_EQ(h0.peer->nsid, 0);
  auto c0 = resolver.find(20)->devices[1];
  EXPECT_EQ(c0.peer->netns, NetnsId{10});
}

TEST(Peers, TheNamespaceADeviceMovedToIsFoundByItsNsidAlone) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  for (NetnsId id : {10, 20, 30}) {
    host.tasks[id] = {1, "/proc/" + std::to_string(id) + "/task/1/ns/net", {}, {}};
    host.links[id] = {plain(1, "lo")};
  }
  host.nsid_table[{10, 20}] = 4;
  host.nsid_table[{10, 30}] = 5;
  Scanner scanner(resolver, host);
  scanner.scan();
  LinkRef to;
  to.ifindex = 12;  // not in 30 yet: the device's arrival there may come later
  to.nsid = 5;
  EXPECT_EQ(namespace_called(resolver, host, 10, to), NetnsId{30});
  to.nsid = 9;
  EXPECT_FALSE(namespace_called(resolver, host, 10, to)) << "an nsid of no cached namespace";
  to.nsid.reset();
  EXPECT_FALSE(namespace_called(resolver, host, 10, to));
}

TEST(Peers, PicksTheRightNamespaceAmongLookalikes) {
  // Namespaces 20 and 30 both hold "ifindex 2 peered with ifindex 2": only
  // the nsid tells which one is 10's peer.
  FakeHost host;
  Listings listings;
  listings[10] = {veth(2, "a", 2, 5)};
  listings[20] = {veth(2, "b", 2, 1)};
  listings[30] = {veth(2, "c", 2, 1)};
  std::map<NetnsId, HandlePtr> handles;
  for (NetnsId id : {10, 20, 30}) handles[id] = fake_handle(host, id);
  host.nsid_table[{10, 20}] = 4;
  host.nsid_table[{10, 30}] = 5;
  host.nsid_table[{30, 10}] = 1;
  host.nsid_table[{20, 10}] = 3;
  resolve_peers(listings, listings, handles, host);
  EXPECT_EQ(listings[10][0].peer->netns, NetnsId{30});
  EXPECT_EQ(listings[30][0].peer->netns, NetnsId{10});
  EXPECT_FALSE(listings[20][0].peer->netns) << "20's peer (its nsid 1) is not namespace 10 (3)";
}

TEST(Peers, LeavesAPeerOutsideTheCacheUnresolved) {
  FakeHost host;
  Listings listings;
  listings[10] = {veth(7, "h0", 2, 3)};
  std::map<NetnsId, HandlePtr> handles;
  handles[10] = fake_handle(host, 10);
  resolve_peers(listings, listings, handles, host);
  EXPECT_FALSE(listings[10][0].peer->netns);
  EXPECT_EQ(listings[10][0].peer->nsid, 3);
  EXPECT_EQ(host.nsid_queries, 0) << "no candidate, nothing to ask the kernel";
}

}  // namespace
}  // namespace netnsd
