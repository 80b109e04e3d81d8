#include <pcipass/core/config_space.hpp>

#include <gtest/gtest.h>

#include <string>

namespace pcipass::core {
namespace {

std::string header(std::uint16_t vendor, std::uint16_t device, std::uint32_t cls, std::uint8_t rev,
                   std::uint8_t type) {
  std::string b(64, '\0');
  b[0] = static_cast<char>(vendor & 0xff);
  b[1] = static_cast<char>(vendor >> 8);
  b[2] = static_cast<char>(device & 0xff);
  b[3] = static_cast<char>(device >> 8);
  b[8] = static_cast<char>(rev);
  b[9] = static_cast<char>(cls & 0xff);
  b[10] = static_cast<char>((cls >> 8) & 0xff);
  b[11] = static_cast<char>((cls >> 16) & 0xff);
  b[14] = static_cast<char>(type);
  b[0x2c] = 0x4d;
  b[0x2d] = 0x14;
  b[0x2e] = 0x01;
  b[0x2f] = static_cast<char>(0xa8);
  return b;
}

TEST(ConfigHeader, DecodesAnEndpoint) {
  auto h = parse_config_header(header(0x144d, 0xa80a, 0x010802, 0x00, 0x80));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->vendor_id, 0x144d);
  EXPECT_EQ(h->device_id, 0xa80a);
  EXPECT_EQ(h->class_code, 0x010802u);
  EXPECT_EQ(h->header_type, 0);  // multi-function bit dropped
  EXPECT_EQ(h->subsystem_vendor_id, 0x144d);
  EXPECT_EQ(h->subsystem_device_id, 0xa801);
}

TEST(ConfigHeader, BridgesHaveNoSubsystemIdsInTheHeader) {
  auto h = parse_config_header(header(0x8086, 0x1234, 0x060400, 0x02, 0x01));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_type, 1);
  EXPECT_EQ(h->revision, 0x02);
  EXPECT_FALSE(h->subsystem_vendor_id);
}

TEST(ConfigHeader, RejectsShortOrSilentConfigSpace) {
  EXPECT_FALSE(parse_config_header(std::string(63, '\0')));
  EXPECT_FALSE(parse_config_header(header(0xffff, 0xffff, 0xffffff, 0xff, 0x7f)));
}

}  // namespace
}  // namespace pcipass::core

namespace pcipass::core {
namespace {

// sysfs `resource`: START END FLAGS per line; six BARs, then ROM and the rest.
TEST(PrefetchableBar, TheLargestPrefetchableMemoryBarOfTheSixCounts) {
  const std::string resource =
      "0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n"  // 16 MiB, not prefetchable
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x000000e000000000 0x000000e1ffffffff 0x000000000014220c\n"  // 8 GiB, prefetchable
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x000000e200000000 0x000000e20fffffff 0x000000000014220c\n"  // 256 MiB, prefetchable
      "0x000000000000f000 0x000000000000f07f 0x0000000000040101\n"  // I/O
      "0x0000000fc0000000 0x0000001fffffffff 0x000000000014220c\n";  // ROM line: not a BAR
  EXPECT_EQ(largest_prefetchable_bar(resource), 8ull << 30);
  // None prefetchable, none set up, or not a resource file: no answer.
  EXPECT_FALSE(largest_prefetchable_bar(
      "0x00000000fb000000 0x00000000fbffffff 0x0000000000040200\n"));
  EXPECT_FALSE(largest_prefetchable_bar(
      "0x0000000000000000 0x0000000000000000 0x0000000000002200\n"));
  EXPECT_FALSE(largest_prefetchable_bar(""));
  // A BAR the kernel could not place (IORESOURCE_UNSET) is no window.
  EXPECT_FALSE(largest_prefetchable_bar(
      "0x0000000000000000 0x00000000ffffffff 0x000000002014220c\n"));
  EXPECT_FALSE(largest_prefetchable_bar("garbage\n"));
  EXPECT_FALSE(largest_prefetchable_bar("0x1 0x2 0x2200 extra\n"));
  // The whole 64-bit space would overflow to 0: not a BAR.
  EXPECT_FALSE(largest_prefetchable_bar(
      "0x0000000000000000 0xffffffffffffffff 0x0000000000002200\n"));
}

}  // namespace
}  // namespace pcipass::core
