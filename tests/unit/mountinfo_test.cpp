#include "kernel/mountinfo.h"

#include <gtest/gtest.h>

namespace netnsd {
namespace {

TEST(Mountinfo, KeepsOnlyNetworkNamespaceMounts) {
  const char* text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "43 42 0:4 net:[4026532177] /run/netns/blue rw shared:2 - nsfs nsfs rw\n"
      "44 42 0:4 uts:[4026532178] /run/uts/x rw - nsfs nsfs rw\n"
      "45 42 0:4 net:[4026532300] /run/docker/netns/1a2b rw shared:9 master:3 - nsfs nsfs rw\n";
  auto mounts = parse_netns_mounts(text);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].netns, 4026532177u);
  EXPECT_EQ(mounts[0].mount_point, "/run/netns/blue");
  EXPECT_EQ(mounts[1].netns, 4026532300u);
  EXPECT_EQ(mounts[1].mount_point, "/run/docker/netns/1a2b");
}

TEST(Mountinfo, UnescapesOctalSequencesInMountPoints) {
  auto mounts = parse_netns_mounts("43 42 0:4 net:[7] /run/netns/with\\040space\\134x rw - nsfs nsfs rw\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, "/run/netns/with space\\x");
  EXPECT_EQ(mount_name(mounts[0].mount_point), "with space\\x");
}

TEST(Mountinfo, SkipsMalformedLines) {
  const char* text =
      "garbage\n"
      "43 42 0:4 net:[abc] /run/netns/a rw - nsfs nsfs rw\n"
      "43 42 0:4 net:[0] /run/netns/b rw - nsfs nsfs rw\n"
      "43 42 0:4 net:[5] /run/netns/c rw shared:1\n"
      "\n"
      "43 42 0:4 net:[6] /run/netns/d rw - nsfs nsfs rw";  // no trailing newline
  auto mounts = parse_netns_mounts(text);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].netns, 6u);
}

TEST(Mountinfo, MountNameIsTheLastComponent) {
  EXPECT_EQ(mount_name("/run/netns/blue"), "blue");
  EXPECT_EQ(mount_name("/var/run/netns/red/"), "red");
  EXPECT_EQ(mount_name("plain"), "plain");
}

}  // namespace
}  // namespace netnsd
