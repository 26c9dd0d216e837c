#include "kernel/processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "resolver/containers.h"
#include "util/fd.h"
#include "util/text.h"

namespace netnsd {
namespace {

constexpr std::size_t kMaxProcFile = 64 * 1024;         // /proc/PID/cgroup, comm
constexpr std::size_t kMaxStateFile = 4 * 1024 * 1024;  // a runtime's config.json
// containers/storage's list of every container (Podman): about 1 KiB each.
constexpr std::size_t kMaxStorageList = 16 * 1024 * 1024;
constexpr std::size_t kMaxCachedNames = 8192;

// Reads a whole small file. With `root_only`, only a regular file owned by
// root, and never through a symlink.
std::optional<std::string> read_file(const std::string& path, std::size_t max, bool root_only) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | (root_only ? O_NOFOLLOW : 0)));
  if (!fd) return std::nullopt;
  if (root_only) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
        static_cast<std::size_t>(st.st_size) > max) {
      return std::nullopt;
    }
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) return std::nullopt;
  }
  return out;
}

std::string text_at(const nlohmann::json& doc, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = &doc;
  for (const char* key : keys) {
    if (!at->is_object()) return {};
    auto it = at->find(key);
    if (it == at->end()) return {};
    at = &*it;
  }
  return at->is_string() ? sanitize_utf8(at->get<std::string>()) : std::string();
}

nlohmann::json parse_json(const std::optional<std::string>& text) {
  if (!text) return nlohmann::json();
  return nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

Result<CgroupView> join_cgroups_of(std::uint32_t pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  Fd ns(::open((dir + "/ns/cgroup").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Error::os("open " + dir + "/ns/cgroup");
  struct stat theirs {};
  struct stat ours {};
  if (::fstat(ns.get(), &theirs) != 0) return Error::os("stat " + dir + "/ns/cgroup");
  const bool joined =
      ::stat("/proc/thread-self/ns/cgroup", &ours) == 0 && ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
  if (!joined && ::setns(ns.get(), CLONE_NEWCGROUP) != 0) {
    return Error::os("join the cgroup namespace of process " + std::to_string(pid));
  }
  CgroupView view{dir + "/mountinfo", dir + "/root"};
  if (::access(view.mountinfo.c_str(), R_OK) != 0) return Error::os("read " + view.mountinfo);
  return view;
}

ProcessDescriber::ProcessDescriber(std::string proc_root, std::string runtime_root, CgroupView cgroups)
    : proc_root_(std::move(proc_root)), runtime_root_(std::move(runtime_root)), cgroups_root_(std::move(cgroups.root)) {
  if (runtime_root_.empty() || runtime_root_.back() != '/') runtime_root_ += '/';
  if (auto text = read_file(cgroups.mountinfo, 4 * 1024 * 1024, false)) cgroups_ = parse_cgroup_mounts(*text);
}

std::optional<std::uint32_t> ProcessDescriber::cgroup_owner(const std::string& controllers,
                                                            const std::string& path) const {
  // The hierarchy the line is about: cgroup v2, or the v1 mount holding its
  // first controller. Only a mount of the whole hierarchy maps paths as is.
  const std::string first = controllers.substr(0, controllers.find(','));
  for (const CgroupMount& m : cgroups_) {
    const bool same = controllers.empty() ? m.v2
                                          : !m.v2 && std::find(m.controllers.begin(), m.controllers.end(), first) !=
                                                         m.controllers.end();
    if (!same || m.root != "/") continue;
    struct stat st {};
    if (::stat((cgroups_root_ + m.mount_point + path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    return st.st_uid;
  }
  return std::nullopt;
}

ProcessDescriber::Names ProcessDescriber::read_names(const ContainerRef& c) const {
  Names n;
  if (c.runtime == "docker") {
    nlohmann::json doc = parse_json(
        read_file(runtime_root_ + "var/lib/docker/containers/" + c.id + "/config.v2.json", kMaxStateFile, true));
    n.name = text_at(doc, {"Name"});
    if (!n.name.empty() && n.name.front() == '/') n.name.erase(0, 1);
    // Kubernetes through the dockershim labels its containers.
    n.pod_name = text_at(doc, {"Config", "Labels", "io.kubernetes.pod.name"});
    n.pod_namespace = text_at(doc, {"Config", "Labels", "io.kubernetes.pod.namespace"});
    if (std::string k8s = text_at(doc, {"Config", "Labels", "io.kubernetes.container.name"}); !k8s.empty())
      n.name = k8s;
  } else if (c.runtime == "containerd" || (c.runtime.empty() && !c.pod_uid.empty())) {
    // One directory per containerd namespace (k8s.io, moby, default, ...).
    const std::string tasks = runtime_root_ + "run/containerd/io.containerd.runtime.v2.task/";
    if (DIR* dir = ::opendir(tasks.c_str())) {
      while (dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        nlohmann::json doc =
            parse_json(read_file(tasks + e->d_name + "/" + c.id + "/config.json", kMaxStateFile, true));
        if (!doc.is_object()) continue;
        n.name = text_at(doc, {"annotations", "io.kubernetes.cri.container-name"});
        if (n.name.empty()) n.name = text_at(doc, {"annotations", "nerdctl/name"});
        n.pod_name = text_at(doc, {"annotations", "io.kubernetes.cri.sandbox-name"});
        n.pod_namespace = text_at(doc, {"annotations", "io.kubernetes.cri.sandbox-namespace"});
        break;
      }
      ::closedir(dir);
    }
  } else if (c.runtime == "cri-o") {
    nlohmann::json doc = parse_json(
        read_file(runtime_root_ + "run/containers/storage/overlay-containers/" + c.id + "/userdata/config.json",
                  kMaxStateFile, true));
    n.name = text_at(doc, {"annotations", "io.kubernetes.container.name"});
    n.pod_name = text_at(doc, {"annotations", "io.kubernetes.pod.name"});
    n.pod_namespace = text_at(doc, {"annotations", "io.kubernetes.pod.namespace"});
  } else if (c.runtime == "podman") {
    n.name = podman_name(c.id);
  }
  return n;
}

std::string ProcessDescriber::podman_name(const std::string& id) const {
  std::lock_guard lock(podman_mutex_);
  // One list per storage driver: a host's containers are in one of them.
  for (const char* driver : {"overlay", "vfs", "btrfs", "zfs"}) {
    const std::string path = runtime_root_ + "var/lib/containers/storage/" + driver + "-containers/containers.json";
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    const std::int64_t mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (podman_.path != path || podman_.dev != st.st_dev || podman_.ino != st.st_ino || podman_.mtime_ns != mtime_ns ||
        podman_.size != st.st_size) {
      podman_ = StorageList{path, st.st_dev, st.st_ino, mtime_ns, st.st_size, {}};
      // [{"id": ..., "names": ["web"], ...}, ...]; root's file only.
      nlohmann::json doc = parse_json(read_file(path, kMaxStorageList, true));
      if (doc.is_array()) {
        for (const nlohmann::json& entry : doc) {
          if (!entry.is_object()) continue;
          auto names = entry.find("names");
          if (names == entry.end() || !names->is_array() || names->empty() || !names->front().is_string()) continue;
          podman_.names.emplace(text_at(entry, {"id"}), sanitize_utf8(names->front().get<std::string>()));
        }
      }
    }
    auto found = podman_.names.find(id);
    return found == podman_.names.end() ? std::string() : found->second;
  }
  return {};
}

ProcessDescriber::Names ProcessDescriber::names_of(const ContainerRef& container) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = names_.find(container.id); it != names_.end()) return it->second;
  }
  Names n = read_names(container);
  // Only what was found is remembered: a container being created may not
  // have written its state yet.
  if (!n.name.empty() || !n.pod_name.empty()) {
    std::lock_guard lock(mutex_);
    if (names_.size() >= kMaxCachedNames) names_.clear();
    names_.emplace(container.id, n);
  }
  return n;
}

std::optional<ProcessInfo> ProcessDescriber::describe(std::uint32_t pid) {
  const std::string dir = proc_root_ + "/" + std::to_string(pid) + "/";
  auto comm = read_file(dir + "comm", kMaxProcFile, false);
  auto cgroup = read_file(dir + "cgroup", kMaxProcFile, false);
  if (!comm || !cgroup) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  info.comm = sanitize_utf8(trim(*comm));
  if (auto match = container_of_cgroup_file(*cgroup)) {
    ContainerRef c = match->container;
    c.cgroup_owner = cgroup_owner(match->controllers, match->path);
    if (c.cgroup_owner == 0u) {
      Names n = names_of(c);
      c.name = std::move(n.name);
      c.pod_name = std::move(n.pod_name);
      c.pod_namespace = std::move(n.pod_namespace);
    }
    info.container = std::move(c);
  }
  return info;
}

}  // namespace netnsd
