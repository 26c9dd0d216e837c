#include "dump/dump_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "system.h"

namespace netnsd {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Sets the process umask for a scope: modes of new directories depend on it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }

 private:
  mode_t previous_;
};

// "network-namespace-dump-<stamp>.json" -> "<stamp>".
std::string stamp_of(const std::string& name, const std::string& prefix, const std::string& suffix) {
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  EXPECT_GT(name.size(), prefix.size() + suffix.size()) << name;
  EXPECT_EQ(name.substr(name.size() - suffix.size()), suffix) << name;
  return name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
}

TEST(DumpFiles, WritesBothFilesReadOnlyWithTheSeedsPrefixes) {
  ScopedUmask umask(022);
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/var/lib/netnsd/dumps";
  auto paths = write_dump_files(dir, "{\"a\":1}\n", "digraph netnsd {}\n");
  ASSERT_TRUE(paths) << paths.error().message();
  EXPECT_EQ(mode_of(dir), 0700u) << "the dump directory is private";
  EXPECT_EQ(mode_of(tmp.path() + "/var/lib/netnsd"), 0755u);

  const std::string dump_name = fs::path(paths->dump_filename).filename();
  const std::string graph_name = fs::path(paths->graph_filename).filename();
  EXPECT_EQ(fs::path(paths->dump_filename).parent_path(), dir);
  const std::string stamp = stamp_of(dump_name, "network-namespace-dump-", ".json");
  EXPECT_EQ(stamp_of(graph_name, "network-namespace-graph-", ".dot"), stamp)
      << "a dump and its graph share their stamp";
  EXPECT_EQ(mode_of(paths->dump_filename), 0400u);
  EXPECT_EQ(mode_of(paths->graph_filename), 0400u);
  EXPECT_EQ(slurp(paths->dump_filename), "{\"a\":1}\n");
  EXPECT_EQ(slurp(paths->graph_filename), "digraph netnsd {}\n");
  EXPECT_EQ(entries(dir).size(), 2u) << "no temporary file is left behind";
}

TEST(DumpFiles, FilesAre0400AndTheDirectory0700WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{0277}}) {
    ScopedUmask umask(mask);
    testing::TempDir tmp;
    const std::string dir = tmp.path() + "/dumps";
    auto paths = write_dump_files(dir, "{}", "digraph {}");
    ASSERT_TRUE(paths) << paths.error().message();
    EXPECT_EQ(mode_of(paths->dump_filename), 0400u) << "umask " << std::oct << mask;
    EXPECT_EQ(mode_of(paths->graph_filename), 0400u) << "umask " << std::oct << mask;
    EXPECT_EQ(mode_of(dir), 0700u) << "umask " << std::oct << mask;
  }
}

TEST(DumpFiles, EveryDumpGetsNewFiles) {
  testing::TempDir tmp;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(write_dump_files(tmp.path(), "{}", "digraph {}"));
  EXPECT_EQ(entries(tmp.path()).size(), 40u);
}

TEST(DumpFiles, AnUnusableDirectoryFailsWithTheOsReasonAndLeavesNothing) {
  testing::TempDir tmp;
  const std::string file = tmp.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  auto paths = write_dump_files(file + "/dumps", "{}", "digraph {}");
  ASSERT_FALSE(paths);
  EXPECT_NE(paths.error().message().find("Not a directory"), std::string::npos) << paths.error().message();
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"not-a-dir"});
}

TEST(DumpFiles, NeverWritesThroughASymlinkedDirectory) {
  testing::TempDir tmp;
  const std::string target = tmp.path() + "/elsewhere";
  fs::create_directory(target);
  fs::create_directory_symlink(target, tmp.path() + "/dumps");
  auto paths = write_dump_files(tmp.path() + "/dumps", "{}", "digraph {}");
  ASSERT_FALSE(paths);
  EXPECT_TRUE(entries(target).empty());
}

}  // namespace
}  // namespace netnsd
