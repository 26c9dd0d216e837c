// Which container a process belongs to, from its cgroup path.
//
// Runtimes name the cgroup of each container after its id, in a handful of
// layouts: with the systemd driver a scope (docker-<id>.scope,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope), with the
// cgroupfs driver a directory (/docker/<id>, /kubepods/.../pod<uid>/<id>,
// .../crio-<id>, /libpod_parent/libpod-<id>). Kubernetes adds the pod's UID
// in a parent (kubepods-...-pod<uid>.slice, with '_' for '-', or pod<uid>).
// Nothing here reads a file: the kernel adapter (kernel/processes.h) does.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "resolver/model.h"

namespace netnsd {

// Where in the cgroup hierarchy a container was found.
struct CgroupMatch {
  ContainerRef container;   // runtime, id and pod UID
  std::string controllers;  // the line's controller list ("" for cgroup v2, "pids", "name=systemd", ...)
  std::string path;         // the cgroup's path, up to and including the container's own directory
};

// The container named by one cgroup path, if any ("/system.slice/docker-<id>.scope").
std::optional<CgroupMatch> container_of_cgroup_path(std::string_view path);

// The container named by the contents of /proc/PID/cgroup (v1, v2 or both):
// the cgroup v2 line when it names one, else the first v1 line that does.
std::optional<CgroupMatch> container_of_cgroup_file(std::string_view text);

}  // namespace netnsd
