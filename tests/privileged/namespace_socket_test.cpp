// NamespaceSocket on the real kernel: one socket per namespace that pins
// it, answers requests and carries its notifications, and the handle that
// keeps only that socket.
#include "kernel/namespace_socket.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "kernel/kernel_host.h"
#include "kernel/netns.h"
#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::NamedNetns;
using testing::unique_name;

// A handle on the namespace, readied the way the scanner readies one.
NamespaceHandle attached_handle(KernelHost& host, const NamedNetns& ns) {
  auto fd = open_netns("/run/netns/" + ns.name(), ns.inode());
  EXPECT_TRUE(fd);
  NamespaceHandle handle(std::move(fd.value()), "/run/netns/" + ns.name());
  EXPECT_TRUE(host.attach(handle));
  return handle;
}

// The devices named `prefix`... that the events added, in their order.
std::vector<std::string> names_of(const std::vector<LinkEvent>& events, char prefix) {
  std::vector<std::string> out;
  for (const LinkEvent& e : events) {
    if (!e.address && !e.deleted && e.device.name[0] == prefix) out.push_back(e.device.name);
  }
  return out;
}

// A veth pair (this kernel may have no dummy devices).
void add_pair(const NamedNetns& ns, const std::string& name) {
  ns.ip({"link", "add", name, "type", "veth", "peer", "name", "x" + name});
}

// A namespace of the test's own and its handle, readied as the scanner
// readies one, with the socket attached to it.
class NamespaceSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NETNSD_REQUIRE_ROOT();
    ns_.emplace(unique_name("ps"));
    handle_.emplace(attached_handle(host_, *ns_));
    auto sock = namespace_socket(*handle_, nullptr);
    ASSERT_TRUE(sock) << sock.error().message();
    sock_ = std::move(sock.value());
  }
  void TearDown() override {
    if (sock_) sock_->unsubscribe();
  }

  KernelHost host_;
  std::optional<NamedNetns> ns_;
  std::optional<NamespaceHandle> handle_;
  std::shared_ptr<NamespaceSocket> sock_;
};

TEST_F(NamespaceSocketTest, TheHandleKeepsOneDescriptorThatPinsTheNamespace) {
  KernelHost& host = host_;
  const NamedNetns& ns = *ns_;
  NamespaceHandle& handle = *handle_;
  EXPECT_FALSE(handle.fd) << "the namespace file is closed once the socket holds the namespace";
  const int fd = handle.descriptor();
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_NE(handle.cookie, 0u);

  // The namespace file comes back from the socket, the same namespace.
  auto file = NetnsFile::of(handle);
  ASSERT_TRUE(file) << file.error().message();
  auto inode = netns_inode(file->get());
  ASSERT_TRUE(inode);
  EXPECT_EQ(*inode, ns.inode());

  // Everything that enters the namespace still works through it.
  add_pair(ns, "p0");
  auto links = host.list_links(handle, ns.inode());
  ASSERT_TRUE(links) << links.error().message();
  EXPECT_TRUE(std::any_of(links->begin(), links->end(), [](const Device& d) { return d.name == "p0"; }));
  auto sockets = host.list_sockets(handle, SocketScope::listening);
  EXPECT_TRUE(sockets) << sockets.error().message();
}

TEST_F(NamespaceSocketTest, ARequestHoldsTheNotificationsItReadsForTheMonitorInOrder) {
  KernelHost& host = host_;
  const NamedNetns& ns = *ns_;
  NamespaceHandle& handle = *handle_;
  NamespaceSocket* sock = sock_.get();
  std::atomic<int> wakes{0};
  ASSERT_TRUE(sock->subscribe(1 << 20, false, [&] { ++wakes; }));

  // Notifications queue on the socket, then a dump is asked on it: the
  // reply comes after them, and the request must step over them.
  for (const char* name : {"q0", "q1", "q2"}) add_pair(ns, name);
  auto links = host.list_links(handle, ns.inode());
  ASSERT_TRUE(links) << links.error().message();
  EXPECT_EQ(links->size(), 7u) << "lo and three veth pairs";
  EXPECT_GE(wakes.load(), 1) << "the request took notifications in and said so";

  std::vector<LinkEvent> events;
  ASSERT_TRUE(sock->read_events([&](const LinkEvent& e) { events.push_back(e); }, ns.inode(), nullptr, SIZE_MAX));
  std::vector<std::string> names = names_of(events, 'q');
  names.erase(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"q0", "q1", "q2"})) << "held notifications, in the order they came";

  // And the monitor goes on from the socket itself.
  add_pair(ns, "q3");
  events.clear();
  ASSERT_TRUE(sock->read_events([&](const LinkEvent& e) { events.push_back(e); }, ns.inode(), nullptr, SIZE_MAX));
  names = names_of(events, 'q');
  names.erase(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"q3"}));
}

TEST_F(NamespaceSocketTest, ADumpStartsEvenWhenNotificationsFillTheReceiveBuffer) {
  KernelHost& host = host_;
  const NamedNetns& ns = *ns_;
  NamespaceHandle& handle = *handle_;
  NamespaceSocket* sock = sock_.get();
  // The kernel's smallest buffer, full. Kernels that check the queue
  // against the buffer before each part of a dump (netlink_dump) would
  // start none: the request takes the notifications off first. (The
  // project's kernel starts the dump either way; this guards the answer.)
  ASSERT_TRUE(sock->subscribe(1, false, [] {}));
  for (const char* name : {"f0", "f1", "f2", "f3"}) add_pair(ns, name);
  const auto began = std::chrono::steady_clock::now();
  auto links = host.list_links(handle, ns.inode());
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_TRUE(links) << links.error().message();
  EXPECT_EQ(links->size(), 9u) << "lo and four veth pairs";
  EXPECT_LT(took, 1s) << "the dump waited for its reply's timeout";
  Status st = sock->read_events([](const LinkEvent&) {}, ns.inode(), nullptr, SIZE_MAX);
  ASSERT_FALSE(st) << "the notifications that did not fit were lost";
  EXPECT_EQ(st.error().code, ENOBUFS);
}

TEST_F(NamespaceSocketTest, TheMonitorIsTurnedAwayWhileARequestRunsAndWokenAfter) {
  const NamedNetns& ns = *ns_;
  NamespaceSocket* sock = sock_.get();
  std::atomic<int> wakes{0};
  ASSERT_TRUE(sock->subscribe(1 << 20, false, [&] { ++wakes; }));

  std::optional<Status> turned;
  auto cookie = sock->request([&](RtnlSocket& s) {
    // The monitor, on its own thread, while the socket answers a request.
    std::thread monitor([&] { turned = sock->read_events([](const LinkEvent&) {}, ns.inode(), nullptr, 1); });
    monitor.join();
    return s.netns_cookie();
  });
  ASSERT_TRUE(cookie);
  ASSERT_TRUE(turned);
  ASSERT_FALSE(*turned);
  EXPECT_EQ(turned->error().code, EBUSY);
  EXPECT_EQ(wakes.load(), 1) << "the request woke the monitor it turned away";

  // A request nobody waited on, with nothing held, wakes nobody.
  ASSERT_TRUE(sock->request([](RtnlSocket& s) { return s.netns_cookie(); }));
  EXPECT_EQ(wakes.load(), 1);
}

// The monitor's watcher (an epoll set, as the event loop's) is told to stop
// looking while a request runs: without that, each request's replies wake
// it, only for the read to be turned away (EBUSY) and woken again.
TEST_F(NamespaceSocketTest, TheMonitorsWatcherStopsLookingWhileARequestRuns) {
  const NamedNetns& ns = *ns_;
  NamespaceSocket* sock = sock_.get();
  ASSERT_TRUE(sock->subscribe(1 << 20, false, [] {}));
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, sock->fd(), &ev), 0);

  // Counts the watcher's wakes during `requests` requests, in each of which
  // a notification (a new device) waits in the queue for 5 ms before the
  // request reads it (and holds it for the monitor) with its own replies.
  int made = 0;
  auto wakes_during = [&](int requests) {
    std::atomic<bool> stop{false};
    std::atomic<int> wakes{0};
    std::thread watcher([&] {
      while (!stop) {
        epoll_event out{};
        if (::epoll_wait(epoll.get(), &out, 1, 20) > 0) {
          ++wakes;
          std::this_thread::sleep_for(6ms);  // the request reads it; do not spin on it meanwhile
        }
      }
    });
    for (int i = 0; i < requests; ++i) {
      EXPECT_TRUE(sock->request([&](RtnlSocket& s) {
        add_pair(ns, "q" + std::to_string(made++));
        std::this_thread::sleep_for(5ms);
        return s.list_links(ns.inode(), /*with_stats=*/false);
      }));
    }
    stop = true;
    watcher.join();
    return wakes.load();
  };
  // What the test tells apart: a watcher nobody quieted is woken.
  EXPECT_GT(wakes_during(5), 0);

  int quiets = 0, louds = 0;
  sock->quiet_during_requests([&](bool quiet) {
    (quiet ? quiets : louds)++;
    epoll_event mod{};
    mod.events = quiet ? 0u : static_cast<std::uint32_t>(EPOLLIN);
    ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, sock->fd(), &mod), 0);
  });
  EXPECT_EQ(wakes_during(5), 0);
  EXPECT_EQ(quiets, 5);
  EXPECT_EQ(louds, 5);

  // Interest is back after each request: a notification wakes the watcher.
  add_pair(ns, "r0");
  epoll_event out{};
  EXPECT_EQ(::epoll_wait(epoll.get(), &out, 1, 2000), 1);
  // Unsubscribing forgets the hook.
  sock->unsubscribe();
  ASSERT_TRUE(sock->request([](RtnlSocket& s) { return s.netns_cookie(); }));
  EXPECT_EQ(quiets, 5) << "a hook called after unsubscribe()";
}

TEST_F(NamespaceSocketTest, MoreNotificationsThanARequestMayHoldAreALossTheMonitorReports) {
  KernelHost& host = host_;
  const NamedNetns& ns = *ns_;
  NamespaceHandle& handle = *handle_;
  NamespaceSocket* sock = sock_.get();
  // A receive buffer the burst fits in: the loss is the request's, not the kernel's.
  ASSERT_TRUE(sock->subscribe(32 << 20, false, [] {}));

  // Well past what a request holds (defaults::kHeldNotificationBytes):
  // veth pairs with an address, each three notifications or more.
  testing::TempDir tmp;
  std::string batch;
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(i);
    batch += "link add m" + n + " type veth peer name n" + n + "\naddr add 10.9." + std::to_string(i / 250) + "." +
             std::to_string(i % 250 + 1) + "/32 dev m" + n + "\n";
  }
  const std::string file = tmp.path() + "/batch";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_TRUE(f);
  std::fputs(batch.c_str(), f);
  std::fclose(f);
  testing::must({"ip", "-n", ns.name(), "-batch", file});
  auto links = host.list_links(handle, ns.inode());
  ASSERT_TRUE(links) << links.error().message();
  EXPECT_EQ(links->size(), 601u);

  Status st = sock->read_events([](const LinkEvent&) {}, ns.inode(), nullptr, SIZE_MAX);
  ASSERT_FALSE(st) << "600 devices' notifications fit in what a request holds?";
  EXPECT_EQ(st.error().code, ENOBUFS) << "the monitor lists the namespace again";
  // And the socket goes on.
  add_pair(ns, "after");
  std::vector<LinkEvent> events;
  ASSERT_TRUE(sock->read_events([&](const LinkEvent& e) { events.push_back(e); }, ns.inode(), nullptr, SIZE_MAX));
  std::vector<std::string> names = names_of(events, 'a');
  names.erase(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"after"}));
}

}  // namespace
}  // namespace netnsd
