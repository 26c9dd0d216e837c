// Dump files on filesystems that fail: real tmpfs mounts (root only).
#include "dump/dump_files.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>

#include "privileged.h"
#include "system.h"

namespace netnsd {
namespace {

TEST(DumpFilesOnFullDisk, ANearlyFullFilesystemIsRefusedBeforeWriting) {
  NETNSD_REQUIRE_ROOT();
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/dumps";
  std::filesystem::create_directory(dir);
  testing::ScopedMount small(dir, 0, "size=1m,mode=0700");
  ASSERT_TRUE(small.ok());
  DumpFileOptions options;
  options.min_free_bytes = 2 << 20;  // more than the whole filesystem
  auto paths = write_dump_files(dir, "{}", "digraph {}", options);
  ASSERT_FALSE(paths);
  EXPECT_EQ(paths.error().code, ENOSPC);
  EXPECT_NE(paths.error().message().find("MiB free"), std::string::npos) << paths.error().message();
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  options.min_free_bytes = 0;
  EXPECT_TRUE(write_dump_files(dir, "{}", "digraph {}", options));
}

TEST(DumpFilesOnFullDisk, AFailedGraphRemovesTheDumpFileToo) {
  NETNSD_REQUIRE_ROOT();
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/dumps";
  std::filesystem::create_directory(dir);
  // Two pages: 7500 bytes fit the count of free bytes, but the JSON takes one
  // page and the graph needs two.
  testing::ScopedMount small(dir, 0, "size=8192,mode=0700");
  ASSERT_TRUE(small.ok());
  DumpFileOptions options;
  options.min_free_bytes = 0;
  auto paths = write_dump_files(dir, std::string(3000, 'j'), std::string(4500, 'd'), options);
  ASSERT_FALSE(paths);
  EXPECT_NE(paths.error().message().find("No space left on device"), std::string::npos) << paths.error().message();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "neither file is left behind";
  // With room again, a dump succeeds.
  auto ok = write_dump_files(dir, std::string(1000, 'j'), std::string(1000, 'd'), options);
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
