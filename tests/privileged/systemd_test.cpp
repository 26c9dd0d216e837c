// netnsd as systemd sees it, without systemd: the test plays the service
// manager's notification socket (NOTIFY_SOCKET, WATCHDOG_USEC) and reads what
// the real binary says: READY=1 only once the scan is done, WATCHDOG=1 from
// the event loop (it stops while the process is stopped), STOPPING=1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <thread>

#include "daemon.h"
#include "privileged.h"
#include "system.h"
#include "util/fd.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;
using testing::Daemon;

// The notification socket: a datagram socket bound in a temporary directory.
class NotifySocket {
 public:
  NotifySocket() : path_(dir_.path() + "/notify") {
    fd_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval wait{0, 100000};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  }
  const std::string& path() const { return path_; }
  // Every message received within `window`.
  std::vector<std::string> receive(std::chrono::milliseconds window) {
    std::vector<std::string> out;
    const auto until = std::chrono::steady_clock::now() + window;
    while (std::chrono::steady_clock::now() < until) {
      char buf[4096];
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  testing::TempDir dir_;
  std::string path_;
  Fd fd_;
};

std::size_t count(const std::vector<std::string>& messages, const std::string& what) {
  std::size_t n = 0;
  for (const auto& m : messages) n += m.find(what) != std::string::npos;
  return n;
}

TEST(Systemd, ReadinessWatchdogAndStoppingAreNotified) {
  NETNSD_REQUIRE_ROOT();
  NotifySocket notify;
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // 0.4 s: a ping every 0.2 s
  auto netnsd = Daemon::spawn({});
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  std::vector<std::string> seen = notify.receive(3s);
  ASSERT_GE(count(seen, "READY=1"), 1u) << "no READY=1";
  std::string ready;
  for (const auto& m : seen) {
    if (m.find("READY=1") != std::string::npos) ready = m;
  }
  EXPECT_NE(ready.find("STATUS="), std::string::npos) << ready;
  EXPECT_NE(ready.find("namespaces cached"), std::string::npos) << ready;
  EXPECT_EQ(netnsd->get("/readyz")->status, 200) << "READY=1 came before netnsd was ready";
  EXPECT_GE(count(seen, "WATCHDOG=1"), 5u) << "the event loop pings about every 0.2 s";

  // A stopped process (as a stalled loop) stops pinging; systemd would restart it.
  ::kill(netnsd->pid(), SIGSTOP);
  notify.receive(100ms);  // what was already on its way
  EXPECT_EQ(count(notify.receive(1s), "WATCHDOG=1"), 0u);
  ::kill(netnsd->pid(), SIGCONT);
  EXPECT_GE(count(notify.receive(1s), "WATCHDOG=1"), 2u) << "pings resume";

  EXPECT_EQ(netnsd->stop(), 0);
  EXPECT_GE(count(notify.receive(300ms), "STOPPING=1"), 1u);
}

TEST(Systemd, OutsideSystemdNothingIsNotified) {
  NETNSD_REQUIRE_ROOT();
  ::unsetenv("NOTIFY_SOCKET");
  Daemon netnsd({});
  EXPECT_TRUE(netnsd.ready());
  EXPECT_EQ(netnsd.log().find("sd_notify"), std::string::npos);
}

}  // namespace
}  // namespace netnsd
