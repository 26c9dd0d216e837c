// ProcessDescriber as root: names are read only from root's cgroups and
// root's files, never through a symlink. (It needs root to own files and
// give them away; tests/unit/processes_test.cpp has the rest.)
#include "kernel/processes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "privileged.h"
#include "process_tree.h"

namespace netnsd {
namespace {

namespace fs = std::filesystem;
using testing::kId;
using testing::write;

class RootProcesses : public testing::Processes {
 protected:
  void SetUp() override {
    NETNSD_REQUIRE_ROOT();
    testing::Processes::SetUp();
  }
};

TEST_F(RootProcesses, NamesComeOnlyFromRootsCgroupsAndRootsFiles) {
  // A cgroup given to a user (a delegated subtree): its name proves nothing.
  ASSERT_EQ(::chown((root_ / ("cgroup" + docker_cgroup_)).c_str(), 65534, 65534), 0);
  {
    ProcessDescriber d = describer();
    auto web = d.describe(100);
    ASSERT_TRUE(web && web->container);
    EXPECT_EQ(web->container->cgroup_owner, 65534u);
    EXPECT_EQ(web->container->id, kId) << "still reported, with its owner";
    EXPECT_EQ(web->container->name, "") << "names are not read for a delegated cgroup";
  }
  ASSERT_EQ(::chown((root_ / ("cgroup" + docker_cgroup_)).c_str(), 0, 0), 0);

  // State not owned by root, or reached through a symlink, is not read.
  const fs::path config = root_ / "state/var/lib/docker/containers" / kId / "config.v2.json";
  ASSERT_EQ(::chown(config.c_str(), 65534, 65534), 0);
  EXPECT_EQ(describer().describe(100)->container->name, "");
  ASSERT_EQ(::chown(config.c_str(), 0, 0), 0);
  write(root_ / "elsewhere.json", R"({"Name":"/spoofed"})");
  fs::remove(config);
  fs::create_symlink(root_ / "elsewhere.json", config);
  EXPECT_EQ(describer().describe(100)->container->name, "");
  // Garbage is no name either.
  fs::remove(config);
  write(config, "{not json");
  EXPECT_EQ(describer().describe(100)->container->name, "");
}

}  // namespace
}  // namespace netnsd
