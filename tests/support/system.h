// Helpers for tests that build real kernel objects: commands, unique names,
// and RAII owners that remove namespaces, links and processes even when a
// test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace netnsd::testing {

struct CommandResult {
  int status = -1;  // exit status, or -1 when it did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs argv[0] with arguments directly (no shell), capturing output.
CommandResult run(const std::vector<std::string>& argv);
// Runs a shell command line (/bin/sh -c).
CommandResult sh(const std::string& command);
// Runs a command that must succeed; fails the current test otherwise.
std::string must(const std::vector<std::string>& argv);

// A name unique to this process and call: prefix + pid + counter, in base 36,
// at most 15 characters (the kernel's limit for interface names).
std::string unique_name(const std::string& prefix);

// The whole file at `path`; empty when it cannot be read.
std::string read_file(const std::string& path);

// Inode of the namespace file at `path` (stat follows the nsfs link).
std::uint64_t inode_of(const std::string& path);

// `ip netns add NAME` for the lifetime of the object.
class NamedNetns {
 public:
  explicit NamedNetns(std::string name);
  ~NamedNetns();
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;

  const std::string& name() const { return name_; }
  std::uint64_t inode() const { return inode_; }
  // Runs `ip ARGS...` inside the namespace.
  std::string ip(std::vector<std::string> args) const;
  // The argument `ip link ... netns X` takes to target this namespace.
  std::string target() const { return name_; }

 private:
  std::string name_;
  std::uint64_t inode_ = 0;
};

// A namespace held only by a process: `unshare -n sleep`, no bind mount.
class HeldNetns {
 public:
  HeldNetns();
  ~HeldNetns();
  HeldNetns(const HeldNetns&) = delete;
  HeldNetns& operator=(const HeldNetns&) = delete;

  pid_t pid() const { return pid_; }
  std::uint64_t inode() const { return inode_; }
  std::string ip(std::vector<std::string> args) const;
  std::string target() const { return std::to_string(pid_); }
  // Kills the holder now (the namespace may live on if someone holds it).
  void kill_holder();

 private:
  pid_t pid_ = -1;
  std::uint64_t inode_ = 0;
};

// Deletes host-side links by name at scope exit (missing ones are ignored).
class HostLinks {
 public:
  HostLinks() = default;
  ~HostLinks();
  HostLinks(const HostLinks&) = delete;
  HostLinks& operator=(const HostLinks&) = delete;
  void add(std::string name) { names_.push_back(std::move(name)); }

 private:
  std::vector<std::string> names_;
};

// A fresh temporary directory, removed recursively at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A tmpfs mounted over `path` for the lifetime of the object.
class ScopedMount {
 public:
  ScopedMount(std::string path, unsigned long flags, const std::string& options);
  ~ScopedMount();
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  bool ok() const { return mounted_; }

 private:
  std::string path_;
  bool mounted_ = false;
};

// Inode of this process's network namespace.
std::uint64_t host_netns();

// A real group, made with groupadd for the lifetime of the object.
class TestGroup {
 public:
  TestGroup();
  ~TestGroup();
  TestGroup(const TestGroup&) = delete;
  TestGroup& operator=(const TestGroup&) = delete;
  const std::string& name() const { return name_; }
  std::uint32_t gid() const { return gid_; }

 private:
  std::string name_;
  std::uint32_t gid_ = 0;
};

// A real unprivileged user, made with useradd for the lifetime of the object
// and removed with userdel (a system user: no home, no login shell),
// optionally a member of `group`.
class TestUser {
 public:
  explicit TestUser(const TestGroup* group = nullptr);
  ~TestUser();
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;
  bool ok() const { return uid_ != 0; }
  const std::string& name() const { return name_; }
  std::uint32_t uid() const { return uid_; }
  std::uint32_t gid() const { return gid_; }
  // argv prefixed to run a command as this user, with no supplementary groups.
  std::vector<std::string> as_user(std::vector<std::string> argv) const;

 private:
  std::string name_;
  std::uint32_t uid_ = 0;
  std::uint32_t gid_ = 0;
  std::optional<std::uint32_t> member_of_;
};

// A copy of `binary` that any user may run (the build tree need not be
// reachable by them), removed at scope exit.
class SharedCopy {
 public:
  explicit SharedCopy(const std::string& binary);
  const std::string& path() const { return path_; }

 private:
  TempDir dir_;
  std::string path_;
};

// `n` namespaces made with one `ip -batch`, deleted the same way at scope exit.
class ManyNamespaces {
 public:
  explicit ManyNamespaces(int n);
  ~ManyNamespaces();
  ManyNamespaces(const ManyNamespaces&) = delete;
  ManyNamespaces& operator=(const ManyNamespaces&) = delete;

 private:
  void batch(const std::string& verb);
  TempDir dir_;
  std::vector<std::string> names_;
};

// A command running in its own process group, its stdout readable line by
// line; the whole group is killed (SIGKILL) and reaped at scope exit.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  // The next line of its stdout, or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffered_;
};

// The fields of /proc/PID/status by name ("VmRSS" -> "1234 kB", "Groups"
// -> ""); empty when the process is gone.
std::map<std::string, std::string> proc_status(pid_t pid);

// The network namespaces process `pid` keeps alive, by inode: those its
// descriptors open (nsfs handles), those of its sockets (SIOCGSKNS on a
// copy taken with pidfd_getfd), and its threads'. Needs root (ptrace
// access); empty when the process is gone.
std::set<std::uint64_t> pinned_namespaces(pid_t pid);

// For each of `namespaces`, every process that keeps it alive
// (pinned_namespaces), with its command: "1234 (netnsd)". One walk of /proc.
std::map<std::uint64_t, std::vector<std::string>> pinned_by(const std::set<std::uint64_t>& namespaces);

// Polls `condition` every 5 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace netnsd::testing
