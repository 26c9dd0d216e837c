// The FactStore's budgets and keys, without a kernel: what fits is kept,
// what does not is counted, an unprivileged owner's namespaces share one
// budget, and routes are told apart as the kernel tells them apart.
#include "resolver/facts.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace netnsd {
namespace {

Route v4_route(int i, std::uint32_t table = 254) {
  Route r;
  r.family = AF_INET;
  r.dst_len = 24;
  r.dst[0] = 10;
  r.dst[1] = static_cast<std::uint8_t>(i >> 8);
  r.dst[2] = static_cast<std::uint8_t>(i);
  r.table = table;
  r.type = 1;
  r.nexthops.push_back(NextHop{std::nullopt, 2, 1, 0});
  return r;
}

FactEvent added(Route r) {
  return FactEvent{false, false, std::move(r)};
}
FactEvent removed(Route r) {
  return FactEvent{true, false, std::move(r)};
}

const NamespaceOwner kHost{1, 0, true};

TEST(FactStore, ANamespaceKeepsItsBudgetAndCountsTheRest) {
  FactBudgets budgets;
  budgets.routes_per_namespace = 3;
  FactStore store(budgets);
  for (int i = 0; i < 5; ++i) store.apply(7, kHost, added(v4_route(i)));
  auto facts = store.get(7);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->routes.size(), 3u);
  EXPECT_EQ(facts->routes_dropped, 2u);
  EXPECT_TRUE(store.truncated(7));
  // The same route again changes nothing; a kept one going makes room.
  EXPECT_EQ(store.apply(7, kHost, added(v4_route(0))), FactOutcome::unchanged);
  EXPECT_EQ(store.apply(7, kHost, removed(v4_route(0))), FactOutcome::removed);
  EXPECT_EQ(store.apply(7, kHost, added(v4_route(9))), FactOutcome::added);
  // A dropped one going: the count follows.
  EXPECT_EQ(store.apply(7, kHost, removed(v4_route(4))), FactOutcome::unchanged);
  EXPECT_EQ(store.get(7)->routes_dropped, 1u);
  // A listing replaces it all, counted exactly.
  FactListing listing;
  for (int i = 0; i < 4; ++i) listing.routes.push_back(v4_route(100 + i));
  store.replace(7, kHost, listing);
  EXPECT_EQ(store.get(7)->routes.size(), 3u);
  EXPECT_EQ(store.get(7)->routes_dropped, 1u);
  EXPECT_EQ(store.totals().routes, 3u);
  store.forget(7);
  EXPECT_FALSE(store.get(7));
  EXPECT_EQ(store.totals().routes, 0u);
}

TEST(FactStore, AnUnprivilegedOwnersNamespacesShareOneBudgetAndNeverTakeTheHostsRoom) {
  FactBudgets budgets;
  budgets.routes_per_namespace = 10;
  budgets.routes_per_owner = 15;
  budgets.routes_total = 30;
  FactStore store(budgets);
  const NamespaceOwner user{42, 1000, false};
  for (NetnsId netns : {100, 101, 102}) {
    for (int i = 0; i < 10; ++i) store.apply(netns, user, added(v4_route(i)));
  }
  EXPECT_EQ(store.get(100)->routes.size(), 10u);
  EXPECT_EQ(store.get(101)->routes.size(), 5u) << "the owner's budget is spent";
  EXPECT_EQ(store.get(102)->routes.size(), 0u);
  EXPECT_EQ(store.totals().routes_dropped, 15u);
  // The host still finds room (the total is 30: 15 are left).
  for (int i = 0; i < 10; ++i) store.apply(1, kHost, added(v4_route(i)));
  EXPECT_EQ(store.get(1)->routes.size(), 10u);
  // Another owner's budget is their own.
  const NamespaceOwner other{43, 1001, false};
  for (int i = 0; i < 10; ++i) store.apply(200, other, added(v4_route(i)));
  EXPECT_EQ(store.get(200)->routes.size(), 5u) << "only the total's last 5";
  // A namespace of the first owner forgotten frees the owner's budget.
  store.forget(100);
  for (int i = 0; i < 10; ++i) store.apply(102, user, added(v4_route(i)));
  EXPECT_EQ(store.get(102)->routes.size(), 10u);
}

TEST(FactStore, Ipv6RoutesWithoutAGatewayAreOnePerDeviceAndPartOfAMultipathRouteAsksForAListing) {
  FactStore store;
  Route link_local;
  link_local.family = AF_INET6;
  link_local.dst_len = 64;
  link_local.dst[0] = 0xfe;
  link_local.dst[1] = 0x80;
  link_local.table = 254;
  link_local.priority = 256;
  for (std::uint32_t dev : {2, 3, 4}) {
    Route r = link_local;
    r.nexthops.push_back(NextHop{std::nullopt, dev, 1, 0});
    EXPECT_EQ(store.apply(9, kHost, added(r)), FactOutcome::added) << dev;
  }
  EXPECT_EQ(store.get(9)->routes.size(), 3u);

  Route multipath = link_local;
  multipath.dst[0] = 0x20;
  multipath.dst[1] = 0x01;
  IpBytes g1{}, g2{};
  g1[0] = g2[0] = 0xfe;
  g1[15] = 1;
  g2[15] = 2;
  multipath.nexthops = {NextHop{g1, 2, 1, 0}, NextHop{g2, 3, 1, 0}};
  EXPECT_EQ(store.apply(9, kHost, added(multipath)), FactOutcome::added);
  Route one = multipath;
  one.nexthops = {NextHop{g1, 2, 1, 0}};
  EXPECT_EQ(store.apply(9, kHost, removed(one)), FactOutcome::needs_listing);
  EXPECT_EQ(store.get(9)->routes.size(), 4u) << "kept until the listing says";
  EXPECT_EQ(store.apply(9, kHost, removed(multipath)), FactOutcome::removed);
}

TEST(FactStore, NeighboursAndRulesHaveBudgetsToo) {
  FactBudgets budgets;
  budgets.neighbours_per_namespace = 2;
  budgets.rules_per_namespace = 1;
  FactStore store(budgets);
  for (std::uint8_t i = 1; i <= 3; ++i) {
    Neighbour n;
    n.family = AF_INET;
    n.ifindex = 2;
    n.dst[3] = i;
    n.state = 0x02;
    store.apply(5, kHost, FactEvent{false, false, n});
  }
  Neighbour stale;
  stale.family = AF_INET;
  stale.ifindex = 2;
  stale.dst[3] = 1;
  stale.state = 0x04;
  EXPECT_EQ(store.apply(5, kHost, FactEvent{false, false, stale}), FactOutcome::changed) << "a new state";
  Rule a, b;
  a.family = b.family = AF_INET;
  a.priority = 1;
  b.priority = 2;
  store.apply(5, kHost, FactEvent{false, false, a});
  EXPECT_EQ(store.apply(5, kHost, FactEvent{false, false, b}), FactOutcome::dropped);
  auto facts = store.get(5);
  EXPECT_EQ(facts->neighbours.size(), 2u);
  EXPECT_EQ(facts->neighbours_dropped, 1u);
  EXPECT_EQ(facts->rules.size(), 1u);
  EXPECT_EQ(facts->rules_dropped, 1u);
  EXPECT_EQ(store.totals().truncated_namespaces, 1u);
}

}  // namespace
}  // namespace netnsd
