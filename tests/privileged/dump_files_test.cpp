// Dump files on filesystems that fail: real tmpfs mounts (root only).
#include "dump/dump_files.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>

#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

TEST(DumpFilesOnFullDisk, AFailedGraphRemovesTheDumpFileToo) {
  NETNSD_REQUIRE_ROOT();
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/dumps";
  std::filesystem::create_directory(dir);
  // Two pages: the JSON fits in one, the graph needs five.
  testing::ScopedMount small(dir, 0, "size=8192,mode=0700");
  ASSERT_TRUE(small.ok());
  auto paths = write_dump_files(dir, std::string(1000, 'j'), std::string(20000, 'd'));
  ASSERT_FALSE(paths);
  EXPECT_NE(paths.error().message().find("No space left on device"), std::string::npos) << paths.error().message();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "neither file is left behind";
  // With room again, a dump succeeds.
  auto ok = write_dump_files(dir, std::string(1000, 'j'), std::string(1000, 'd'));
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST(DumpFilesOnReadOnlyDisk, FailsWithTheOsReason) {
  NETNSD_REQUIRE_ROOT();
  testing::TempDir tmp;
  testing::ScopedMount ro(tmp.path(), MS_RDONLY, "size=1m");
  ASSERT_TRUE(ro.ok());
  auto paths = write_dump_files(tmp.path() + "/dumps", "{}", "digraph {}");
  ASSERT_FALSE(paths);
  EXPECT_NE(paths.error().message().find("Read-only file system"), std::string::npos) << paths.error().message();
}

}  // namespace
}  // namespace netnsd
