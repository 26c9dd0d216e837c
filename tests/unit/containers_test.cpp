// Container attribution from cgroup paths, in every layout the runtimes use.
#include "resolver/containers.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace netnsd {
namespace {

const std::string kId = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
const std::string kUid = "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

struct Case {
  std::string path;
  std::string runtime;
  std::string pod_uid;
};

TEST(Containers, EveryRuntimeAndDriverLayoutIsRecognised) {
  std::string uid_ = kUid;
  std::replace(uid_.begin(), uid_.end(), '-', '_');
  const Case cases[] = {
      // Docker, systemd and cgroupfs drivers.
      {"/system.slice/docker-" + kId + ".scope", "docker", ""},
      {"/docker/" + kId, "docker", ""},
      // Kubernetes with containerd, systemd and cgroupfs drivers.
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ + ".slice/cri-containerd-" + kId +
           ".scope",
       "containerd", kUid},
      {"/kubepods.slice/kubepods-pod" + uid_ + ".slice/cri-containerd-" + kId + ".scope", "containerd", kUid},
      {"/kubepods/burstable/pod" + kUid + "/" + kId, "", kUid},
      // CRI-O, both drivers.
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ + ".slice/crio-" + kId + ".scope",
       "cri-o", kUid},
      {"/kubepods/besteffort/pod" + kUid + "/crio-" + kId, "cri-o", kUid},
      // Podman, root and rootless, and its cgroupfs parent.
      {"/machine.slice/libpod-" + kId + ".scope", "podman", ""},
      {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope", "podman", ""},
      {"/libpod_parent/libpod-" + kId, "podman", ""},
      // A process in a sub-cgroup of its container (systemd inside it).
      {"/system.slice/docker-" + kId + ".scope/init.scope", "docker", ""},
      // Seen from inside a cgroup namespace.
      {"/../../kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ + ".slice/cri-containerd-" +
           kId + ".scope",
       "containerd", kUid},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto m = container_of_cgroup_path(c.path);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->container.runtime, c.runtime);
    EXPECT_EQ(m->container.id, kId);
    EXPECT_EQ(m->container.pod_uid, c.pod_uid);
    EXPECT_NE(m->path.find(kId), std::string::npos);
  }
  EXPECT_EQ(container_of_cgroup_path("/system.slice/docker-" + kId + ".scope/init.scope")->path,
            "/system.slice/docker-" + kId + ".scope");
}

TEST(Containers, WhatIsNotAContainerIsNotTakenForOne) {
  const std::string not_containers[] = {
      "/",
      "/user.slice/user-1000.slice/session-3.scope",
      "/system.slice/docker.service",
      "/system.slice/containerd.service",
      "/system.slice/crio-conmon-" + kId + ".scope",  // CRI-O's monitor, beside the container
      "/machine.slice/libpod-conmon-" + kId + ".scope",
      "/system.slice/docker-" + kId.substr(0, 63) + ".scope",  // 63 digits
      "/system.slice/docker-" + std::string(64, 'g') + ".scope",
      "/" + kId,                                    // a bare id outside any runtime's or pod's directory
      "/kubepods.slice/kubepods-besteffort.slice",  // a QoS class, no pod
      "/kubepods/burstable/podnot-a-uid/" + kId.substr(1),
  };
  for (const std::string& path : not_containers) {
    EXPECT_FALSE(container_of_cgroup_path(path)) << path;
  }
}

TEST(Containers, TheCgroupFilePrefersTheV2LineThenTheFirstV1OneThatNamesAContainer) {
  const std::string v1_only = "12:pids:/docker/" + kId + "\n11:memory:/docker/" + kId +
                              "\n1:name=systemd:/system.slice/docker-" + kId + ".scope\n";
  auto m = container_of_cgroup_file(v1_only);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->controllers, "pids");
  EXPECT_EQ(m->path, "/docker/" + kId);

  const std::string hybrid = "12:pids:/user.slice\n1:name=systemd:/system.slice/docker-" + kId +
                             ".scope\n0::/system.slice/docker-" + kId + ".scope\n";
  m = container_of_cgroup_file(hybrid);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->controllers, "") << "cgroup v2 wins";
  EXPECT_EQ(m->container.runtime, "docker");

  EXPECT_FALSE(container_of_cgroup_file("0::/init.scope\n"));
  EXPECT_FALSE(container_of_cgroup_file("garbage without colons\n::\n"));
  // A path with ':' in it is still one path.
  m = container_of_cgroup_file("0::/odd:dir/docker-" + kId + ".scope\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->path, "/odd:dir/docker-" + kId + ".scope");
}

}  // namespace
}  // namespace netnsd
