// Who a process is: its command and the container it belongs to, read from
// /proc/PID/comm and /proc/PID/cgroup, and the names the container runtimes'
// own state on disk gives, without talking to any runtime.
//
// Trust: a cgroup path is only as good as whoever could create it. Anybody
// with a delegated cgroup subtree (every systemd user, rootless podman) can
// name a directory docker-<id>.scope. So the owner of the container's cgroup
// directory is reported with it, and names are read only for cgroups owned
// by root; the runtime's files are read only when root owns them, without
// following symlinks, and only up to a size.
//
// Names come from (under the runtime root, "/" by default):
//   Docker      var/lib/docker/containers/<id>/config.v2.json ("Name"; the
//               dockershim's io.kubernetes.* labels)
//   containerd  run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json
//               (io.kubernetes.cri.* annotations; nerdctl/name)
//   CRI-O       run/containers/storage/overlay-containers/<id>/userdata/config.json
//               (io.kubernetes.* annotations)
//   Podman      var/lib/containers/storage/<driver>-containers/containers.json
//               (containers/storage's list of every container: "names")
//
// In a container (a Kubernetes DaemonSet) with the host's pids but a cgroup
// namespace and a root of its own, netnsd sees the host as one of the
// host's processes does (--host-pid 1): join_cgroups_of() that process's
// cgroup namespace, its cgroup mounts, and a runtime root under its root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/mountinfo.h"
#include "resolver/model.h"
#include "util/result.h"

namespace netnsd {

// Where the cgroup hierarchies are seen from: the mountinfo that lists
// their mounts, and the directory those mount points are under ("" for
// our own root).
struct CgroupView {
  std::string mountinfo = "/proc/self/mountinfo";
  std::string root;
};

// Joins the cgroup namespace of process `pid` (unless netnsd is in it
// already), so that /proc/PID/cgroup names every process's cgroup by its
// whole path rather than relative to a container's cgroup, and returns that
// process's view of the cgroup mounts: its mountinfo, under its root. Needs
// CAP_SYS_ADMIN, and access to the process as ptrace allows. Changes the
// calling thread only: call it before any other thread starts (they
// inherit it).
Result<CgroupView> join_cgroups_of(std::uint32_t pid, const std::string& proc_root = "/proc");

// Threading: describe() may be called from several threads at once.
class ProcessDescriber {
 public:
  explicit ProcessDescriber(std::string proc_root = "/proc", std::string runtime_root = "/", CgroupView cgroups = {});

  // The process, or nullopt when it is gone (or hidden from us).
  std::optional<ProcessInfo> describe(std::uint32_t pid);

 private:
  struct Names {
    std::string name, pod_name, pod_namespace;
  };
  std::optional<std::uint32_t> cgroup_owner(const std::string& controllers, const std::string& path) const;
  Names names_of(const ContainerRef& container);
  Names read_names(const ContainerRef& container) const;
  // A Podman container's name from containers/storage's list, parsed again
  // only when the file changed (it lists every container: megabytes).
  std::string podman_name(const std::string& id) const;

  std::string proc_root_;
  std::string runtime_root_;
  std::vector<CgroupMount> cgroups_;
  std::string cgroups_root_;  // the directory the mount points of cgroups_ are under
  std::mutex mutex_;
  std::map<std::string, Names> names_;  // by container id; bounded
  struct StorageList {
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = -1;
    off_t size = -1;
    std::unordered_map<std::string, std::string> names;  // by container id
  };
  mutable std::mutex podman_mutex_;
  mutable StorageList podman_;
};

}  // namespace netnsd
