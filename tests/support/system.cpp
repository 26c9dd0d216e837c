#include "system.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace netnsd::testing {
namespace {

// A test that kills netnsd while its client writes (kill -9 in the middle of a
// request) must see EPIPE, not die of SIGPIPE: Debian's cpp-httplib sends with
// no MSG_NOSIGNAL. A handler, not SIG_IGN, so what the tests exec starts with
// SIGPIPE at its default again.
void ignore_sigpipe(int) {}
[[maybe_unused]] const bool kSigpipeCaught = [] {
  struct sigaction action {};
  action.sa_handler = ignore_sigpipe;
  ::sigemptyset(&action.sa_mask);
  return ::sigaction(SIGPIPE, &action, nullptr) == 0;
}();

std::string base36(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), digits[v % 36]);
    v /= 36;
  } while (v);
  return out;
}

// Reads both pipes until EOF without deadlocking on either.
void drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv) {
  CommandResult result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc == 0) drain(out[0], err[0], result.out, result.err);
  ::close(out[0]);
  ::close(err[0]);
  if (rc != 0) {
    result.err = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult sh(const std::string& command) {
  return run({"/bin/sh", "-c", command});
}

std::string must(const std::vector<std::string>& argv) {
  CommandResult r = run(argv);
  std::string line;
  for (const auto& a : argv) line += a + " ";
  EXPECT_EQ(r.status, 0) << line << "failed: " << r.err;
  return r.out;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<std::uint64_t> counter{0};
  std::string name = prefix + base36(static_cast<std::uint64_t>(::getpid())) + base36(counter++);
  if (name.size() > 15) name = name.substr(name.size() - 15);
  return name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

std::uint64_t host_netns() {
  return inode_of("/proc/self/ns/net");
}

NamedNetns::NamedNetns(std::string name) : name_(std::move(name)) {
  must({"ip", "netns", "add", name_});
  inode_ = inode_of("/run/netns/" + name_);
}

NamedNetns::~NamedNetns() {
  run({"ip", "netns", "del", name_});
}

std::string NamedNetns::ip(std::vector<std::string> args) const {
  args.insert(args.begin(), {"ip", "-n", name_});
  return must(args);
}

HeldNetns::HeldNetns() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(ready[1], 1);
    const char* argv[] = {"unshare", "-n", "--", "/bin/sh", "-c", "echo ready; exec sleep 86400", nullptr};
    ::execv("/usr/bin/unshare", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(ready[1]);
  char buf[8] = {};
  ssize_t n = ::read(ready[0], buf, sizeof buf);
  ::close(ready[0]);
  EXPECT_GT(n, 0) << "unshare -n did not start";
  inode_ = inode_of("/proc/" + std::to_string(pid_) + "/ns/net");
}

void HeldNetns::kill_holder() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

HeldNetns::~HeldNetns() {
  kill_holder();
}

std::string HeldNetns::ip(std::vector<std::string> args) const {
  args.insert(args.begin(), {"nsenter", "-t", std::to_string(pid_), "-n", "ip"});
  return must(args);
}

HostLinks::~HostLinks() {
  for (const auto& name : names_) run({"ip", "link", "del", name});
}

ScopedMount::ScopedMount(std::string path, unsigned long flags, const std::string& options) : path_(std::move(path)) {
  mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", flags, options.c_str()) == 0;
  EXPECT_TRUE(mounted_) << "mount tmpfs on " << path_ << ": " << std::strerror(errno);
}

ScopedMount::~ScopedMount() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "netnsd-test-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made) path_ = made;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  // Dump files are 0400; root removes them regardless, and so does the owner.
  std::filesystem::remove_all(path_, ec);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TestGroup::TestGroup() : name_(unique_name("ng")) {
  CommandResult made = run({"groupadd", "--system", name_});
  if (made.status != 0) {
    ADD_FAILURE() << "groupadd " << name_ << ": " << made.err;
    return;
  }
  if (const group* gr = ::getgrnam(name_.c_str())) gid_ = gr->gr_gid;
  EXPECT_NE(gid_, 0u) << "no gid for " << name_;
}

TestGroup::~TestGroup() {
  if (gid_ != 0) run({"groupdel", name_});
}

TestUser::TestUser(const TestGroup* group) : name_(unique_name("nt")) {
  std::vector<std::string> argv = {"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"};
  if (group) {
    argv.push_back("--groups");
    argv.push_back(group->name());
    member_of_ = group->gid();
  }
  argv.push_back(name_);
  CommandResult made = run(argv);
  if (made.status != 0) {
    ADD_FAILURE() << "useradd " << name_ << ": " << made.err;
    return;
  }
  if (const passwd* pw = ::getpwnam(name_.c_str())) {
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  EXPECT_NE(uid_, 0u) << "no uid for " << name_;
}

TestUser::~TestUser() {
  if (name_.empty()) return;
  // Its processes first: userdel refuses a user still running something.
  if (uid_ != 0) run({"pkill", "-KILL", "-U", std::to_string(uid_)});
  run({"userdel", name_});
}

std::vector<std::string> TestUser::as_user(std::vector<std::string> argv) const {
  std::vector<std::string> out = {"setpriv", "--reuid=" + std::to_string(uid_), "--regid=" + std::to_string(gid_)};
  out.push_back(member_of_ ? "--groups=" + std::to_string(*member_of_) : "--clear-groups");
  out.push_back("--");
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

Background::Background(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  out_ = out[0];
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    pid_ = -1;
  }
}

Background::~Background() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_ >= 0) ::close(out_);
}

std::optional<std::string> Background::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out_ < 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

SharedCopy::SharedCopy(const std::string& binary) {
  ::chmod(dir_.path().c_str(), 0755);
  path_ = dir_.path() + "/" + std::filesystem::path(binary).filename().string();
  std::filesystem::copy_file(binary, path_);
  ::chmod(path_.c_str(), 0755);
}

ManyNamespaces::ManyNamespaces(int n) {
  const std::string prefix = unique_name("m");
  for (int i = 0; i < n; ++i) names_.push_back(prefix + "-" + std::to_string(i));
  batch("add");
}

ManyNamespaces::~ManyNamespaces() {
  batch("del");
}

void ManyNamespaces::batch(const std::string& verb) {
  const std::string path = dir_.path() + "/" + verb;
  {
    std::ofstream out(path);
    for (const auto& name : names_) out << "netns " << verb << " " << name << "\n";
  }
  run({"ip", "-force", "-batch", path});
}

std::map<std::string, std::string> proc_status(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto value = line.find_first_not_of(" \t", colon + 1);
    fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return fields;
}

std::set<std::uint64_t> pinned_namespaces(pid_t pid) {
  std::set<std::uint64_t> found;
  const std::string proc = "/proc/" + std::to_string(pid);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd", ec)) {
    const std::string link = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec) continue;
    if (link.rfind("net:[", 0) == 0) {
      found.insert(std::stoull(link.substr(5)));
    } else if (link.rfind("socket:[", 0) == 0 && pidfd >= 0) {
      const int target = std::atoi(entry.path().filename().c_str());
      const int copy = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
      if (copy < 0) continue;
      const int netns = ::ioctl(copy, SIOCGSKNS);
      struct stat st {};
      if (netns >= 0 && ::fstat(netns, &st) == 0) found.insert(st.st_ino);
      if (netns >= 0) ::close(netns);
      ::close(copy);
    }
  }
  for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
    struct stat st {};
    if (::stat((task.path() / "ns" / "net").c_str(), &st) == 0) found.insert(st.st_ino);
  }
  if (pidfd >= 0) ::close(pidfd);
  return found;
}

std::map<std::uint64_t, std::vector<std::string>> pinned_by(const std::set<std::uint64_t>& namespaces) {
  std::map<std::uint64_t, std::vector<std::string>> holders;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    for (std::uint64_t netns : pinned_namespaces(pid)) {
      if (!namespaces.count(netns)) continue;
      std::ifstream comm(entry.path() / "comm");
      std::string command;
      std::getline(comm, command);
      holders[netns].push_back(name + " (" + command + ")");
    }
  }
  return holders;
}

}  // namespace netnsd::testing
