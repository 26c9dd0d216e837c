#include "api/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "system.h"
#include "util/fd.h"

namespace netnsd {
namespace {

Fd bound_socket(const std::string& path, bool listening) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  if (listening) {
    EXPECT_EQ(::listen(fd.get(), 1), 0);
  }
  return fd;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(UnixSocket, CreatesAMissingParentDirectory0750) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/run-netnsd";
  ASSERT_TRUE(prepare_socket_path(dir + "/netnsd.sock"));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST(UnixSocket, ReplacesAStaleSocket) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  { Fd closed = bound_socket(path, false); }  // bound, then closed: nobody answers
  ASSERT_TRUE(exists(path));
  Status st = prepare_socket_path(path);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_FALSE(exists(path));
}

TEST(UnixSocket, RefusesALiveSocket) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  Fd live = bound_socket(path, true);
  Status st = prepare_socket_path(path);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("already listening on " + path), std::string::npos) << st.error().message();
  EXPECT_TRUE(exists(path));
}

TEST(UnixSocket, RefusesAndKeepsAFileThatIsNotASocket) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  std::ofstream(path) << "precious";
  Status st = prepare_socket_path(path);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("is not a socket"), std::string::npos);
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "precious");
}

TEST(UnixSocket, RefusesASymlinkEvenToASocket) {
  testing::TempDir tmp;
  const std::string real = tmp.path() + "/real.sock";
  Fd stale = bound_socket(real, false);
  const std::string link = tmp.path() + "/link.sock";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  Status st = prepare_socket_path(link);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), link + " exists and is not a socket; refusing to replace it");
  EXPECT_TRUE(exists(real)) << "the socket behind the link is left alone";
  struct stat lst {};
  EXPECT_EQ(::lstat(link.c_str(), &lst), 0);
  EXPECT_TRUE(S_ISLNK(lst.st_mode)) << "and so is the link";
}

TEST(UnixSocket, RefusesAPathTooLongForSunPath) {
  Status st = prepare_socket_path("/tmp/" + std::string(120, 'x'));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("longer than"), std::string::npos);
}

TEST(UnixSocket, SecureSetsMode0660AndTheGroup) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  Fd fd = bound_socket(path, true);
  ASSERT_TRUE(secure_socket(path, ::getegid()));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, ::getegid());
}

TEST(UnixSocket, SecureNeverFollowsASymlinkAtThePath) {
  testing::TempDir tmp;
  const std::string victim = tmp.path() + "/victim";
  std::ofstream(victim) << "x";
  ::chmod(victim.c_str(), 0600);
  const std::string path = tmp.path() + "/s.sock";
  ASSERT_EQ(::symlink(victim.c_str(), path.c_str()), 0);
  EXPECT_FALSE(secure_socket(path, std::nullopt));
  struct stat st {};
  ASSERT_EQ(::stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "the file behind the link kept its mode";
}

TEST(UnixSocket, GroupsAreLookedUpByNameOrNumber) {
  EXPECT_EQ(lookup_group("0").value(), 0u);
  EXPECT_EQ(lookup_group("root").value(), 0u);
  auto bad = lookup_group("no-such-group-netnsd");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("no group named"), std::string::npos);
}

TEST(UnixSocket, OneLockHolderPerSocketPath) {
  testing::TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  auto first = lock_socket_path(path);
  ASSERT_TRUE(first) << first.error().message();
  // flock locks belong to the open file: a second open, even in this process, is refused.
  auto second = lock_socket_path(path);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("another netnsd holds"), std::string::npos) << second.error().message();
  first->reset();
  EXPECT_TRUE(lock_socket_path(path)) << "free again once the holder is gone";
}

TEST(UnixSocket, TheSocketDirectoryGoesToTheGroupButASharedOneIsLeftAlone) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/run";
  ASSERT_TRUE(prepare_socket_path(dir + "/s.sock", ::getegid()));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_gid, ::getegid());
  // A directory like /tmp (sticky, world-writable) is not ours to change.
  const std::string shared = tmp.path() + "/shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
  ::chmod(shared.c_str(), 01777);
  ASSERT_TRUE(prepare_socket_path(shared + "/s.sock", ::getegid()));
  ASSERT_EQ(::stat(shared.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
}

}  // namespace
}  // namespace netnsd
