// Who draws the graph, and with what: the renderer parses text whose names
// any namespace owner chose, so it gives up its privileges before Graphviz
// reads a byte. Watched from outside, in /proc, while it renders: the child
// netnsd forks, and netnsd-render started per connection as systemd's
// socket activation does (here by the test, as a real unprivileged user).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "documents.h"
#include "dump/dot_encoder.h"
#include "dump/graph_render.h"
#include "privileged.h"
#include "system.h"
#include "util/defaults.h"
#include "util/sanitizers.h"

namespace netnsd {
namespace {

using namespace std::chrono_literals;

// Some 300 nodes as a PNG: over half a second of rendering, long enough to
// be watched.
std::string watched_graph() {
  return dump_to_dot(testing::container_host(100));
}

// "Max address space  805306368  805306368  bytes" -> the soft limit.
std::string address_space_limit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max address space", 0) != 0) continue;
    std::istringstream fields(line.substr(17));
    std::string soft;
    fields >> soft;
    return soft;
  }
  return "";
}

// What a renderer was seen with, last, while it rendered.
struct Seen {
  std::map<std::string, std::string> status;  // /proc/PID/status
  std::string address_space;
  int readings = 0;
};

// Watches the processes `find` names until `done`.
Seen watch(const std::atomic<bool>& done, const std::function<std::vector<pid_t>()>& find) {
  Seen seen;
  while (!done) {
    for (pid_t pid : find()) {
      auto fields = testing::proc_status(pid);
      const std::string limit = address_space_limit(pid);
      if (fields.count("CapEff") && !limit.empty()) {
        seen.status = std::move(fields);
        seen.address_space = limit;
        ++seen.readings;
      }
    }
    std::this_thread::sleep_for(2ms);
  }
  return seen;
}

// The children of this process, by their /proc/PID/stat (processes come
// and go while /proc is read: nothing here may throw).
std::vector<pid_t> children() {
  std::vector<pid_t> found;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(it->path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == ::getpid()) found.push_back(std::atoi(name.c_str()));
  }
  return found;
}

void expect_no_privileges(const Seen& seen) {
  ASSERT_GT(seen.readings, 0) << "the renderer was never seen";
  std::map<std::string, std::string> s = seen.status;
  EXPECT_EQ(s["CapEff"], "0000000000000000");
  EXPECT_EQ(s["CapPrm"], "0000000000000000");
  EXPECT_EQ(s["CapInh"], "0000000000000000");
  EXPECT_EQ(s["NoNewPrivs"], "1");
#ifndef NETNSD_ASAN
  // (Not under ASan, which reserves terabytes of address space for its shadow.)
  EXPECT_EQ(seen.address_space, std::to_string(defaults::kRenderMemoryBytes));
#endif
  std::printf("[ figures ] renderer seen %d times: Uid %s, CapEff %s, NoNewPrivs %s, address space %s\n", seen.readings,
              s["Uid"].c_str(), s["CapEff"].c_str(), s["NoNewPrivs"].c_str(), seen.address_space.c_str());
}

#ifndef NETNSD_ASAN
// (ASan builds render in the calling process, graph_render.cpp says why:
// there is no forked renderer to watch.)
TEST(Renderer, TheForkedRendererGivesUpItsPrivilegesBeforeItReadsTheGraph) {
  NETNSD_REQUIRE_ROOT();
  const std::string dot = watched_graph();
  std::atomic<bool> done{false};
  Result<std::string> image = Error::logic("not rendered");
  std::thread render([&] {
    image = render_dot(dot, ImageFormat::png);
    done = true;
  });
  const Seen seen = watch(done, children);
  render.join();
  ASSERT_TRUE(image.ok()) << image.error().message();
  expect_no_privileges(seen);
  // Root here, with CAP_SETUID and CAP_SETGID: the child becomes nobody.
  std::map<std::string, std::string> s = seen.status;
  EXPECT_EQ(s["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(s["Gid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(s["Groups"], "");
}
#endif

// What systemd does for netnsd-render.socket (Accept=yes): each connection
// is handed to a new netnsd-render as its standard input and output, run as
// `user` (systemd's is a dynamic user; here a real one, made for the test).
class SocketActivator {
 public:
  SocketActivator(const std::string& path, const std::string& binary, const testing::TestUser& user)
      : binary_(binary), uid_(user.uid()), gid_(user.gid()) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bound_ = ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(listener_, 4) == 0;
    thread_ = std::thread([this] { run(); });
  }
  ~SocketActivator() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
    std::lock_guard lock(mutex_);
    for (pid_t pid : started_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  bool ok() const { return bound_; }
  std::vector<pid_t> started() {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  void run() {
    for (;;) {
      const int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::dup2(conn, STDIN_FILENO);
        ::dup2(conn, STDOUT_FILENO);
        if (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, gid_, gid_, gid_) != 0 ||
            ::syscall(SYS_setresuid, uid_, uid_, uid_) != 0) {
          ::_exit(126);
        }
        const char* argv[] = {binary_.c_str(), nullptr};
        ::execv(binary_.c_str(), const_cast<char* const*>(argv));
        ::_exit(127);
      }
      ::close(conn);
      std::lock_guard lock(mutex_);
      if (pid > 0) started_.push_back(pid);
    }
  }
  std::string binary_;
  uid_t uid_;
  gid_t gid_;
  int listener_ = -1;
  bool bound_ = false;
  std::mutex mutex_;
  std::vector<pid_t> started_;
  std::thread thread_;
};

TEST(Renderer, ASocketActivatedRendererRunsAsItsUserWithoutCapabilitiesAndDraws) {
  NETNSD_REQUIRE_ROOT();
  testing::TestUser user;
  ASSERT_TRUE(user.ok());
  testing::SharedCopy renderer(NETNSD_RENDER_BINARY);
  testing::TempDir dir;
  const std::string socket = dir.path() + "/render.sock";
  SocketActivator activator(socket, renderer.path(), user);
  ASSERT_TRUE(activator.ok());

  const std::string dot = watched_graph();
  std::atomic<bool> done{false};
  Result<std::string> image = Error::logic("not rendered");
  std::thread render([&] {
    image = render_dot_by(socket, dot, ImageFormat::png);
    done = true;
  });
  const Seen seen = watch(done, [&] { return activator.started(); });
  render.join();
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  expect_no_privileges(seen);
  std::map<std::string, std::string> s = seen.status;
  const std::string uid = std::to_string(user.uid());
  EXPECT_EQ(s["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid);

  // The same answers as the forked renderer: an SVG, a graph too large
  // (E2BIG), DOT that does not parse.
  auto svg = render_dot_by(socket, dot, ImageFormat::svg);
  ASSERT_TRUE(svg.ok()) << svg.error().message();
  EXPECT_NE(svg->find("</svg>"), std::string::npos);
  std::string huge = "digraph {";
  for (std::size_t i = 0; i <= defaults::kMaxRenderedNodes; ++i) huge += " n" + std::to_string(i) + ";";
  auto too_large = render_dot_by(socket, huge + " }", ImageFormat::svg);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().code, E2BIG) << too_large.error().message();
  auto garbage = render_dot_by(socket, "digraph { a -> ; }", ImageFormat::svg);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message().find("syntax"), std::string::npos) << garbage.error().message();
}

TEST(Renderer, ARendererThatCannotBeReachedOrAskedWrongSaysSo) {
  NETNSD_REQUIRE_ROOT();
  testing::TempDir dir;
  auto nobody_there = render_dot_by(dir.path() + "/none.sock", "digraph { a }", ImageFormat::svg);
  ASSERT_FALSE(nobody_there.ok());
  EXPECT_EQ(nobody_there.error().code, ENOENT) << nobody_there.error().message();
  EXPECT_NE(nobody_there.error().message().find("connect to the renderer"), std::string::npos);

  // netnsd-render itself, asked for a format it does not draw.
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDIN_FILENO);
    ::dup2(fds[1], STDOUT_FILENO);
    const char* argv[] = {NETNSD_RENDER_BINARY, nullptr};
    ::execv(NETNSD_RENDER_BINARY, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(fds[1]);
  const std::string request = "gif\ndigraph { a }";
  ASSERT_EQ(::write(fds[0], request.data(), request.size()), static_cast<ssize_t>(request.size()));
  ::shutdown(fds[0], SHUT_WR);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(answer.substr(0, 1), "-") << answer;
  EXPECT_NE(answer.find("expected 'svg' or 'png'"), std::string::npos) << answer;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

}  // namespace
}  // namespace netnsd
