// netnsd as systemd sees it, without systemd: the test plays the service
// manager's notification socket (NOTIFY_SOCKET, WATCHDOG_USEC) and reads what
// the real binary says: READY=1 only once the scan is done, WATCHDOG=1 from
// the event loop (it stops while the process is stopped), STOPPING=1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <optional>
#include <regex>
#include <thread>

#include "daemon.h"
#include "privileged.h"
#include "system.h"
#include "util/fd.h"
#include "util/text.h"

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
  // The first message that holds `what`, within `timeout`.
  std::optional<std::string> first(const std::string& what, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      char buf[4096];
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).find(what) != std::string_view::npos) {
        return std::string(buf, static_cast<std::size_t>(n));
      }
    }
    return std::nullopt;
  }
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

// READY=1 tells systemctl start to return: at that moment the cache must
// hold the whole host. With 1000 namespaces the initial scan takes long
// enough that a READY=1 sent before it ends would be seen here.
TEST(Systemd, ReadyIsNotifiedOnlyOnceTheScanIsDoneAndTheWatchdogAndStoppingFollow) {
  NETNSD_REQUIRE_ROOT();
  testing::ManyNamespaces many(1000);
  NotifySocket notify;
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // 0.4 s: a ping every 0.2 s
  auto netnsd = Daemon::spawn({});
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  const auto ready = notify.first("READY=1", 20s);
  ASSERT_TRUE(ready) << "no READY=1";
  // At once, before anything else: ready, and every namespace cached.
  auto readyz = netnsd->get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200) << "READY=1 came before netnsd was ready: " << readyz->body;
  EXPECT_GT(netnsd->cached().size(), 1000u) << "READY=1 came before the scan was done";
  EXPECT_NE(ready->find("STATUS="), std::string::npos) << *ready;
  EXPECT_NE(ready->find("namespaces cached"), std::string::npos) << *ready;
  EXPECT_GE(count(notify.receive(1500ms), "WATCHDOG=1"), 5u) << "the event loop pings about every 0.2 s";

  // A stopped process (as a stalled loop) stops pinging; systemd would restart it.
  ::kill(netnsd->pid(), SIGSTOP);
  notify.receive(100ms);  // what was already on its way
  EXPECT_EQ(count(notify.receive(1s), "WATCHDOG=1"), 0u);
  ::kill(netnsd->pid(), SIGCONT);
  EXPECT_GE(count(notify.receive(1s), "WATCHDOG=1"), 2u) << "pings resume";

  EXPECT_EQ(netnsd->stop(), 0);
  EXPECT_GE(count(notify.receive(300ms), "STOPPING=1"), 1u);
}

// Outside systemd, logs go to stderr stamped with their time; under it
// (JOURNAL_STREAM names the very stderr netnsd has) they go to the journal,
// which stamps them itself, and nothing is written to stderr.
TEST(Systemd, LogsAreStampedOnStderrOutsideSystemdAndGoToTheJournalUnderIt) {
  NETNSD_REQUIRE_ROOT();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("JOURNAL_STREAM");
  {
    Daemon outside({});
    ASSERT_TRUE(outside.ready());
    const std::string log = outside.log();
    ASSERT_FALSE(log.empty());
    const std::regex stamped(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3} )");
    for (std::string_view line : split_lines(log)) {
      EXPECT_TRUE(std::regex_search(std::string(line), stamped)) << line;
    }
  }
  // The launcher names its own stderr (netnsd's log file) in JOURNAL_STREAM,
  // as systemd does for a unit's, then becomes netnsd.
  Daemon under({}, {"sh", "-c", "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" \"$@\""});
  ASSERT_TRUE(under.ready());
  EXPECT_EQ(under.log(), "") << "logs went to stderr, not to the journal";
}

}  // namespace
}  // namespace netnsd
