#include "resolver/scanner.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeHost;
using testing::plain;
using testing::veth;

TEST(Scanner, CapturesFromTasksFirstThenFromBindMounts) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[10] = {4, "/proc/1/task/1/ns/net", {}, {}};
  host.tasks[20] = {1, "/proc/7/task/8/ns/net", {}, {}};
  host.mounts = {{20, "/run/netns/blue"}, {30, "/run/docker/netns/abc"}};
  host.links[10] = {plain(1, "lo")};
  host.links[20] = {plain(1, "lo")};
  host.links[30] = {plain(1, "lo"), plain(2, "eth0")};

  Scanner scanner(resolver, host);
  ScanReport report = scanner.scan();
  EXPECT_EQ(report.namespaces, 3u);
  EXPECT_EQ(report.captured, 3u);
  EXPECT_EQ(report.capture_failures, 0u);

  auto views = resolver.snapshot();
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].discovered_by, Source::procfs);
  EXPECT_EQ(views[0].pids, 4u);
  EXPECT_EQ(views[1].handle->path, "/proc/7/task/8/ns/net");
  EXPECT_EQ(views[1].names, std::vector<std::string>{"blue"});
  EXPECT_EQ(views[2].discovered_by, Source::bind_mount);
  EXPECT_EQ(views[2].handle->path, "/run/docker/netns/abc");
  EXPECT_EQ(views[2].devices.size(), 2u);
  EXPECT_EQ(resolver.stats().resyncs, 1u);
}

TEST(Scanner, FallsBackToABindMountWhenTheTaskIsGone) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[20] = {1, "/proc/7/task/7/ns/net", {}, {}};
  host.unopenable.insert("/proc/7/task/7/ns/net");
  host.mounts = {{20, "/run/netns/blue"}};
  host.links[20] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan();
  auto view = resolver.find(20);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->handle->path, "/run/netns/blue");
  EXPECT_EQ(view->discovered_by, Source::bind_mount);
}

TEST(Scanner, ProcessesAreDescribedOnceSettledAndTheirContainersListed) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  const std::string id(64, 'a');
  ContainerRef web{"docker", id, "", 0u, "web-1", "", ""};
  host.tasks[10] = {3, "/proc/5/task/5/ns/net", {5, 6, 7}, {}};
  host.links[10] = {plain(1, "lo")};
  host.processes[5] = {5, "nginx", web};
  host.processes[6] = {6, "nginx", web};
  host.processes[7] = {7, "sh", std::nullopt};  // not in a container (yet, perhaps)

  Scanner scanner(resolver, host);
  scanner.scan();
  auto view = resolver.find(10);
  ASSERT_TRUE(view);
  ASSERT_EQ(view->processes.size(), 3u);
  EXPECT_EQ(view->processes[0].comm, "nginx");
  ASSERT_EQ(view->containers.size(), 1u) << "one container, however many of its processes are listed";
  EXPECT_EQ(view->containers[0].name, "web-1");
  EXPECT_EQ(host.process_reads, 3);

  // A second scan re-reads only what was not settled: the process outside
  // any container, which may since have been placed in one.
  host.processes[7].container = ContainerRef{"docker", std::string(64, 'b'), "", 0u, "sidecar", "", ""};
  scanner.scan(ScanMode::presence);
  EXPECT_EQ(host.process_reads, 4);
  view = resolver.find(10);
  ASSERT_EQ(view->containers.size(), 2u);
  EXPECT_EQ(view->containers[1].name, "sidecar");

  // A process gone from the namespace is forgotten; a new pid is read.
  host.tasks[10] = {2, "/proc/5/task/5/ns/net", {5, 9}, {}};
  host.processes[9] = {9, "worker", web};
  scanner.scan(ScanMode::presence);
  EXPECT_EQ(host.process_reads, 5);
  view = resolver.find(10);
  ASSERT_EQ(view->processes.size(), 2u);
  EXPECT_EQ(view->processes[1].comm, "worker");
  EXPECT_EQ(view->containers.size(), 1u);

  // No task left: no processes, no containers.
  host.tasks.clear();
  host.mounts = {{10, "/run/netns/kept"}};
  scanner.scan(ScanMode::presence);
  EXPECT_TRUE(resolver.find(10)->processes.empty());
  EXPECT_TRUE(resolver.find(10)->containers.empty());
}

TEST(Scanner, EveryProcessCountsForContainersNotOnlyTheListedOnes) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  // Nine processes of one container, then a sidecar's, past the listed ones.
  TaskNetns task{10, "/proc/100/task/100/ns/net", {}, {}};
  ContainerRef app{"containerd", std::string(64, 'a'), "", 0u, "app", "", ""};
  ContainerRef sidecar{"containerd", std::string(64, 'c'), "", 0u, "sidecar", "", ""};
  for (std::uint32_t pid = 100; pid < 110; ++pid) {
    (task.listed.size() < defaults::kProcessesListed ? task.listed : task.unlisted).push_back(pid);
    host.processes[pid] = {pid, pid == 109 ? "envoy" : "worker", pid == 109 ? sidecar : app};
  }
  host.tasks[10] = task;
  host.links[10] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan();
  auto view = resolver.find(10);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->processes.size(), defaults::kProcessesListed);
  ASSERT_EQ(view->containers.size(), 2u) << "the sidecar's process is past the listed ones";
  EXPECT_EQ(view->containers[1].name, "sidecar");
  const int reads = host.process_reads;
  EXPECT_EQ(reads, 10);
  scanner.scan(ScanMode::presence);
  EXPECT_EQ(host.process_reads, reads) << "settled descriptions are not read again";
}

TEST(Scanner, CountsNamespacesItCannotOpen) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[20] = {1, "/proc/7/task/7/ns/net", {}, {}};
  host.unopenable.insert("/proc/7/task/7/ns/net");
  Scanner scanner(resolver, host);
  ScanReport report = scanner.scan();
  EXPECT_EQ(report.capture_failures, 1u);
  EXPECT_FALSE(resolver.contains(20));
  EXPECT_EQ(resolver.stats().handle_capture_failures, 1u);
}

TEST(Scanner, ANamespaceThatDisappearsTurnsLonelyAndIsReleasedLater) {
  FakeClock clock;
  Resolver resolver(testing::resolver_config(4096, 30s), clock);
  FakeHost host;
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.mounts = {{20, "/run/netns/blue"}};
  host.links[10] = {plain(1, "lo")};
  host.links[20] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan();

  host.mounts.clear();  // ip netns del blue
  scanner.scan();
  ASSERT_TRUE(resolver.find(20)->lonely_since);
  EXPECT_FALSE(resolver.find(10)->lonely_since);
  clock.advance(30s);
  EXPECT_EQ(resolver.release_lonely(), 1u);
  EXPECT_FALSE(resolver.contains(20));
  EXPECT_TRUE(resolver.contains(10));
}

TEST(Scanner, RescanReplacesDevicesSoDeletedOnesDisappear) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.links[10] = {plain(1, "lo"), plain(5, "mv0", "macvlan")};
  Scanner scanner(resolver, host);
  scanner.scan();
  ASSERT_EQ(resolver.find(10)->devices.size(), 2u);
  host.links[10] = {plain(1, "lo")};
  scanner.scan();
  EXPECT_EQ(resolver.find(10)->devices.size(), 1u);
  EXPECT_EQ(host.opened.size(), 1u) << "a cached namespace is not reopened";
}

TEST(Scanner, APresenceScanListsOnlyNewNamespaces) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.links[10] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan(ScanMode::full);
  host.links[10] = {plain(1, "lo"), plain(2, "new0")};  // events keep this fresh, not scans
  host.tasks[20] = {1, "/proc/2/task/2/ns/net", {}, {}};
  host.links[20] = {plain(1, "lo")};
  ScanReport report = scanner.scan(ScanMode::presence);
  EXPECT_EQ(report.captured, 1u);
  EXPECT_EQ(resolver.find(10)->devices.size(), 1u) << "a presence scan does not re-list known namespaces";
  EXPECT_EQ(resolver.find(20)->devices.size(), 1u);
  EXPECT_EQ(resolver.stats().resyncs, 1u) << "only full scans count as resyncs";
}

TEST(Scanner, AMountScanCapturesMountsAndLeavesPresenceAlone) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.links[10] = {plain(1, "lo")};
  host.links[30] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan(ScanMode::full);
  host.tasks.clear();  // would make 10 lonely in a presence scan
  host.mounts = {{30, "/run/netns/red"}};
  scanner.scan(ScanMode::mounts);
  ASSERT_TRUE(resolver.find(30));
  EXPECT_EQ(resolver.find(30)->names, std::vector<std::string>{"red"});
  EXPECT_FALSE(resolver.find(10)->lonely_since);
  EXPECT_EQ(scanner.mount_points_of(30), std::vector<std::string>{"/run/netns/red"});
  EXPECT_EQ(scanner.mounted(), std::vector<NetnsId>{30});
}

TEST(Scanner, AFailedProcWalkDoesNotMakeNamespacesLonely) {
  FakeClock clock;
  Resolver resolver({}, clock);
  FakeHost host;
  host.tasks[10] = {1, "/proc/1/task/1/ns/net", {}, {}};
  host.links[10] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  scanner.scan();
  host.tasks_fail = true;  // EMFILE, say
  ScanReport report = scanner.scan();
  EXPECT_FALSE(report.tasks_ok);
  EXPECT_FALSE(resolver.find(10)->lonely_since);
}

TEST(Scanner, AFullCacheTakesNewMountsButDoesNotChurnOnRescans) {
  FakeClock clock;
  Resolver resolver(testing::resolver_config(2, std::chrono::seconds(30)), clock);
  FakeHost host;
  for (NetnsId id : {10, 20, 30}) {
    host.tasks[id] = {1, "/proc/" + std::to_string(id) + "/task/1/ns/net", {}, {}};
    host.links[id] = {plain(1, "lo")};
  }
  host.links[40] = {plain(1, "lo")};
  Scanner scanner(resolver, host);
  ScanReport first = scanner.scan();
  EXPECT_EQ(first.captured, 2u);
  EXPECT_EQ(first.capacity_skips, 1u);
  EXPECT_EQ(resolver.stats().evictions, 0u);
  scanner.scan();
  scanner.scan(ScanMode::presence);
  EXPECT_EQ(resolver.stats().evictions, 0u) << "rescans must not evict to re-capture";
  host.mounts = {{40, "/run/netns/new"}};  // a namespace that just appeared
  scanner.scan(ScanMode::mounts);
  EXPECT_TRUE(resolver.contains(40));
  EXPECT_EQ(resolver.stats().evictions, 1u);
}

TEST(Scanner, OwnersAreRecordedAndDecideWhoFits) {
  FakeClock clock;
  Resolver resolver(testing::resolver_config(2, 30s, 1), clock);
  FakeHost host;
  host.tasks[1] = {50, "/proc/1/task/1/ns/net", {}, {}};
  host.tasks[100] = {1, "/proc/7/task/7/ns/net", {}, {}};
  host.tasks[101] = {1, "/proc/8/task/8/ns/net", {}, {}};
  for (NetnsId id : {1, 100, 101}) host.links[id] = {plain(1, "lo")};
  host.owners[100] = {900, 1000, false};
  host.owners[101] = {900, 1000, false};
  Scanner scanner(resolver, host);
  ScanReport report = scanner.scan();
  EXPECT_TRUE(resolver.contains(1));
  EXPECT_EQ(resolver.contains(100) + resolver.contains(101), 1) << "uid 1000's share is one";
  EXPECT_EQ(report.capacity_skips, 1u);
  const NetnsId theirs = resolver.contains(100) ? 100 : 101;
  EXPECT_EQ(resolver.find(theirs)->handle->owner, (NamespaceOwner{900, 1000, false}));
  EXPECT_TRUE(resolver.find(1)->handle->owner.host);
  ResolverStats s = resolver.stats();
  EXPECT_EQ(s.not_cached, 1u);
  EXPECT_EQ(s.unprivileged_namespaces, 1u);
  // A rescan finds the same and does not churn: no evictions.
  scanner.scan();
  EXPECT_EQ(resolver.stats().evictions, 0u);
  EXPECT_TRUE(resolver.contains(theirs));
}

}  // namespace
}  // namespace netnsd
