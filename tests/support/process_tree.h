// A /proc, a cgroup v2 mount and the container runtimes' state, built in a
// temporary directory: what ProcessDescriber reads (tests/unit and
// tests/privileged processes_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "kernel/processes.h"
#include "system.h"

namespace netnsd::testing {

namespace fs = std::filesystem;

inline const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
inline const std::string kPodId = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
inline const std::string kUid = "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

inline void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class Processes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path();
    // A cgroup v2 hierarchy mounted at <root>/cgroup, as mountinfo says.
    write(root_ / "mountinfo", "30 20 0:26 / " + (root_ / "cgroup").string() +
                                   " rw,nosuid - cgroup2 cgroup2 rw\n"
                                   "31 20 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
    docker_cgroup_ = "/system.slice/docker-" + kId + ".scope";
    std::string uid_ = kUid;
    std::replace(uid_.begin(), uid_.end(), '-', '_');
    pod_cgroup_ = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
                  ".slice/cri-containerd-" + kPodId + ".scope";
    fs::create_directories(root_ / ("cgroup" + docker_cgroup_));
    fs::create_directories(root_ / ("cgroup" + pod_cgroup_));
    process(100, "nginx\n", "0::" + docker_cgroup_ + "\n");
    process(200, "pause\n", "0::" + pod_cgroup_ + "\n");
    process(300, "bash\n", "0::/user.slice/user-0.slice/session-1.scope\n");
    // What the runtimes wrote.
    write(root_ / "state/var/lib/docker/containers" / kId / "config.v2.json",
          R"({"Name":"/web-1","Config":{"Labels":{}}})");
    write(root_ / "state/run/containerd/io.containerd.runtime.v2.task/k8s.io" / kPodId / "config.json",
          R"({"annotations":{"io.kubernetes.cri.container-name":"POD","io.kubernetes.cri.sandbox-name":"nginx-0",)"
          R"("io.kubernetes.cri.sandbox-namespace":"default"}})");
  }

  void process(int pid, const std::string& comm, const std::string& cgroup) {
    write(root_ / "proc" / std::to_string(pid) / "comm", comm);
    write(root_ / "proc" / std::to_string(pid) / "cgroup", cgroup);
  }

  ProcessDescriber describer() {
    return ProcessDescriber((root_ / "proc").string(), (root_ / "state").string(),
                            {(root_ / "mountinfo").string(), ""});
  }

  TempDir dir_;
  fs::path root_;
  std::string docker_cgroup_, pod_cgroup_;
};

}  // namespace netnsd::testing
