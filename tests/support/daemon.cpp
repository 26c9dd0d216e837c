#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "util/text.h"

extern char** environ;

namespace netnsd::testing {

const nlohmann::json* device_in(const nlohmann::json& ns, const std::string& name) {
  if (!ns.is_object() || !ns.contains("devices")) return nullptr;
  for (const nlohmann::json& d : ns["devices"]) {
    if (d["name"] == name) return &d;
  }
  return nullptr;
}

Daemon::Daemon(std::vector<std::string> args, std::vector<std::string> launcher, bool wait_ready) {
  socket_ = dir_.path() + "/netnsd.sock";
  log_path_ = dir_.path() + "/netnsd.log";
  std::vector<std::string> argv = std::move(launcher);
  for (std::string a : {std::string(NETNSD_BINARY), std::string("--socket"), socket_, std::string("--dump-dir"),
                        dir_.path() + "/dumps", std::string("--journal"), dir_.path() + "/state/journal.db",
                        std::string("--log-level"), std::string("debug")}) {
    argv.push_back(std::move(a));
  }
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawnp(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << NETNSD_BINARY << ": " << std::strerror(rc);
    pid_ = -1;
    return;
  }
  if (!wait_ready) return;
  ready_ = eventually(
      [&] {
        auto res = get("/readyz");
        return res && res->status == 200;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(ready_) << "netnsd did not become ready:\n" << log();
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::unique_ptr<Daemon> Daemon::spawn(std::vector<std::string> args, std::vector<std::string> launcher) {
  return std::make_unique<Daemon>(std::move(args), std::move(launcher), false);
}

void Daemon::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Daemon::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

httplib::Result Daemon::get(const std::string& path) const {
  httplib::Client cli(socket_);
  cli.set_address_family(AF_UNIX);
  cli.set_keep_alive(false);
  cli.set_read_timeout(30, 0);
  return cli.Get(path);
}

std::string Daemon::metrics_text() const {
  auto res = get("/metrics");
  if (!res || res->status != 200) return {};
  utsname u{};
  ::uname(&u);
  const std::string node = std::string("node=\"") + u.nodename + "\"";
  std::string out;
  out.reserve(res->body.size());
  for (std::string_view line : split_lines(res->body)) {
    std::string text(line);
    if (auto at = text.find("{" + node); !text.empty() && text[0] != '#' && at != std::string::npos) {
      const bool alone = text.compare(at + 1 + node.size(), 1, "}") == 0;
      text.erase(alone ? at : at + 1, alone ? node.size() + 2 : node.size() + 1);
    }
    out.append(text).append("\n");
  }
  return out;
}

double Daemon::metric(const std::string& series) const {
  const std::string body = metrics_text();
  if (body.empty()) return -1;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

httplib::Result Daemon::post(const std::string& path, const std::string& body) const {
  httplib::Client cli(socket_);
  cli.set_address_family(AF_UNIX);
  cli.set_keep_alive(false);
  cli.set_read_timeout(60, 0);
  return cli.Post(path, body, "application/json");
}

nlohmann::json Daemon::get_json(const std::string& path) const {
  auto res = get(path);
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, false);
}

nlohmann::json Daemon::find_netns(std::uint64_t inode) const {
  auto res = get("/v1/namespaces/" + std::to_string(inode));
  if (!res || res->status != 200) return nullptr;
  return nlohmann::json::parse(res->body, nullptr, false);
}

std::vector<std::uint64_t> Daemon::cached() const {
  std::vector<std::uint64_t> out;
  nlohmann::json doc = get_json("/v1/namespaces");
  if (!doc.is_object()) return out;
  for (const auto& ns : doc["namespaces"]) out.push_back(ns["netns"].get<std::uint64_t>());
  return out;
}

int Daemon::fd_count() const {
  std::string dir = "/proc/" + std::to_string(pid_) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

int Daemon::settled_fd_count() const {
  int last = fd_count();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int now = fd_count();
    if (now == last) return now;
    last = now;
  }
  return last;
}

namespace {

long status_kib(pid_t pid, const std::string& field) {
  const auto fields = proc_status(pid);
  const auto it = fields.find(field);
  return it == fields.end() ? -1 : std::stol(it->second);
}

}  // namespace

long Daemon::rss_kib() const {
  return status_kib(pid_, "VmRSS");
}
long Daemon::peak_rss_kib() const {
  return status_kib(pid_, "VmHWM");
}

}  // namespace netnsd::testing
