#include <pcipass/core/proc_parsers.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

TEST(ParseMountinfo, ReadsDeviceNumbersMountPointsAndSources) {
  const char* text =
      "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
      "23 22 0:21 / /proc rw,nosuid - proc proc rw\n"
      "24 22 259:3 / /mnt/my\\040disk rw master:3 shared:4 - xfs /dev/nvme0n1p3 rw\n"
      "garbage line\n"
      "25 22 8:1 / /boot rw - vfat /dev/sda1\n"  // super options may be missing
      "26 22 8:2 / /x rw - vfat\n";              // no source: skipped
  auto mounts = parse_mountinfo(text);
  ASSERT_EQ(mounts.size(), 4u);
  EXPECT_EQ(mounts[0].major, 259u);
  EXPECT_EQ(mounts[0].minor, 2u);
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[0].fstype, "ext4");
  EXPECT_EQ(mounts[0].source, "/dev/nvme0n1p2");
  EXPECT_EQ(mounts[1].fstype, "proc");
  EXPECT_EQ(mounts[2].mount_point, "/mnt/my disk");
  EXPECT_EQ(mounts[2].fstype, "xfs");
  EXPECT_EQ(mounts[3].source, "/dev/sda1");
}

TEST(ParseSwaps, ReadsPartitionsAndFiles) {
  const char* text =
      "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
      "/dev/nvme0n1p3                          partition\t8388604\t\t0\t\t-2\n"
      "/swapfile                               file\t\t1048572\t\t0\t\t-3\n";
  auto swaps = parse_swaps(text);
  ASSERT_EQ(swaps.size(), 2u);
  EXPECT_EQ(swaps[0].path, "/dev/nvme0n1p3");
  EXPECT_FALSE(swaps[0].is_file);
  EXPECT_EQ(swaps[1].path, "/swapfile");
  EXPECT_TRUE(swaps[1].is_file);
}

TEST(ParseRoutes, FindsTheDefaultRoute) {
  const char* text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
  auto routes = parse_routes(text);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].interface, "eth0");
  EXPECT_TRUE(routes[0].is_default);
  EXPECT_FALSE(routes[1].is_default);
  EXPECT_EQ(routes[2].interface, "wg0");
  EXPECT_FALSE(routes[2].is_default);
}

TEST(ParseIfInet6, SkipsLoopbackAndLinkLocal) {
  const char* text =
      "00000000000000000000000000000001 01 80 10 80       lo\n"
      "fe800000000000000000000000000001 02 40 20 80     eth0\n"
      "20010db8000000000000000000000002 02 40 00 00     eth0\n";
  auto addresses = parse_if_inet6(text);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(addresses[0].interface, "eth0");
}

TEST(ParseIpv6Routes, FindsDefaultRoutesOnly) {
  const char* text =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 enp5s0\n"
      "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001 enp5s0\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
  auto routes = parse_ipv6_routes(text);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].interface, "enp5s0");
}

}  // namespace
}  // namespace pcipass::core
