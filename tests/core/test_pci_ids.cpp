// core::PciIdsNames: pci.ids read the way libpci reads it. The same lookups
// through libpci itself are compared in tests/host/test_libpci_names.cpp.

#include <pcipass/core/pci_ids.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace pcipass::core {
namespace {

const char* const k_ids =
    "# comment\n"
    "8086  Intel Corporation\n"
    "\t1572  Ethernet Controller X710 for 10GbE SFP+\n"
    "\t\t8086 0001  Ethernet Converged Network Adapter X710-4\n"
    "\t154c  Ethernet Virtual Function 700 Series \n"  // one trailing blank is dropped
    "  \n"
    "144d  Samsung Electronics Co Ltd\r\n"
    "\ta80a  NVMe SSD Controller PM9A1/PM9A3/980PRO\n"
    "S 144d\n"
    "\ta801  Generic Samsung subsystem\n"
    "X unknown block\n"
    "\tanything goes here\n"
    "C 02  Network controller\n"
    "\t00  Ethernet controller\n"
    "\t\t01  some prog-if\n"
    "C 01  Mass storage controller\n"
    "\t08  Non-Volatile memory controller\n"
    "C ff  Unassigned class\n";

TEST(PciIdsNames, LooksUpVendorsDevicesSubsystemsAndClasses) {
  const PciIdsNames names(k_ids);
  EXPECT_EQ(names.error_line(), 0u);
  EXPECT_EQ(names.vendor(0x8086), "Intel Corporation");
  EXPECT_EQ(names.vendor(0x144d), "Samsung Electronics Co Ltd");
  EXPECT_EQ(names.device(0x8086, 0x1572), "Ethernet Controller X710 for 10GbE SFP+");
  EXPECT_EQ(names.device(0x8086, 0x154c), "Ethernet Virtual Function 700 Series");
  EXPECT_EQ(names.subsystem(0x8086, 0x1572, 0x8086, 0x0001),
            "Ethernet Converged Network Adapter X710-4");
  EXPECT_EQ(names.class_name(0x020000), "Ethernet controller");
  EXPECT_EQ(names.class_name(0x010802), "Non-Volatile memory controller");
}

TEST(PciIdsNames, FallsBackLikeLibpci) {
  const PciIdsNames names(k_ids);
  EXPECT_EQ(names.vendor(0x1b36), "Vendor 1b36");
  EXPECT_EQ(names.device(0x8086, 0x0d57), "Device 0d57");
  EXPECT_EQ(names.device(0x1b36, 0x0010), "Device 0010");
  // Subsystems: this device's entry, then the generic one, then the device
  // itself when the ids are its own, else the subsystem device number.
  EXPECT_EQ(names.subsystem(0x144d, 0xa80a, 0x144d, 0xa801), "Generic Samsung subsystem");
  EXPECT_EQ(names.subsystem(0x8086, 0x1572, 0x8086, 0x1572),
            "Ethernet Controller X710 for 10GbE SFP+");
  EXPECT_EQ(names.subsystem(0x8086, 0x1572, 0x8086, 0x0002), "Device 0002");
  // A known class without the sub-class gets the number; unknown, only the number.
  EXPECT_EQ(names.class_name(0x02ff00), "Network controller [02ff]");
  EXPECT_EQ(names.class_name(0xff0000), "Unassigned class [ff00]");
  EXPECT_EQ(names.class_name(0x120000), "Class 1200");
}

TEST(PciIdsNames, NoDatabaseGivesNumbersOnly) {
  const PciIdsNames names("");
  EXPECT_EQ(names.vendor(0x8086), "Vendor 8086");
  EXPECT_EQ(names.class_name(0x020000), "Class 0200");
}

TEST(PciIdsNames, AMalformedLineStopsTheParseAndKeepsWhatCameBefore) {
  for (const char* bad : {"zzzz  not hex\n", "8086  Duplicate vendor\n", "\t\t\t1234  too deep\n",
                          "1234\n", "S 9999\n", "C 0z  bad class\n"}) {
    const std::string text = std::string("1af4  Red Hat, Inc.\n") + bad + "1b36  later vendor\n";
    const PciIdsNames names(std::string("8086  Intel Corporation\n") + text);
    EXPECT_EQ(names.error_line(), 3u) << bad;
    EXPECT_EQ(names.vendor(0x1af4), "Red Hat, Inc.") << bad;
    EXPECT_EQ(names.vendor(0x1b36), "Vendor 1b36") << bad;
  }
}

TEST(PciIdsNames, ARepeatedDeviceOrSubsystemStopsAtItsSecondLine) {
  const PciIdsNames device(
      "8086  Intel\n"
      "\t0001  first\n"
      "\t0002  second\n"
      "\t\t8086 0001  sub\n"
      "\t0001  again\n"   // line 5: libpci's "Duplicate entry"
      "\t0003  after\n"
      "1af4  Red Hat\n");
  EXPECT_EQ(device.error_line(), 5u);
  EXPECT_EQ(device.device(0x8086, 0x0001), "first");
  EXPECT_EQ(device.device(0x8086, 0x0002), "second");
  EXPECT_EQ(device.subsystem(0x8086, 0x0002, 0x8086, 0x0001), "sub");
  EXPECT_EQ(device.device(0x8086, 0x0003), "Device 0003");
  EXPECT_EQ(device.vendor(0x1af4), "Vendor 1af4");

  const PciIdsNames subsystem(
      "8086  Intel\n"
      "\t0001  first\n"
      "\t\t8086 0001  sub\n"
      "\t\t8086 0002  sub two\n"
      "\t0002  second\n"
      "\t0001  repeated device\n"  // line 6
      "\t\t8086 0001  repeated subsystem\n");
  EXPECT_EQ(subsystem.error_line(), 6u);
  EXPECT_EQ(subsystem.subsystem(0x8086, 0x0001, 0x8086, 0x0002), "sub two");
  EXPECT_EQ(subsystem.device(0x8086, 0x0002), "second");

  // The first repeat counts, whichever entry comes back later in the block.
  const PciIdsNames first(
      "8086  Intel\n"
      "\t0001  a\n"
      "\t0002  b\n"
      "\t0002  b again\n"  // line 4
      "\t0001  a again\n"
      "\tzzzz  broken\n");
  EXPECT_EQ(first.error_line(), 4u);
  EXPECT_EQ(first.device(0x8086, 0x0002), "b");

  // Same ids under another vendor are no repeat.
  const PciIdsNames two("8086  Intel\n\t0001  a\n1af4  Red Hat\n\t0001  b\n");
  EXPECT_EQ(two.error_line(), 0u);
  EXPECT_EQ(two.device(0x1af4, 0x0001), "b");
  EXPECT_EQ(two.device(0x8086, 0x0001), "a");
}

TEST(PciIdsNames, ManyEntriesGrowTheTable) {
  std::string text;
  char line[64];
  for (unsigned v = 0x1000; v < 0x1000 + 3000; ++v) {
    std::snprintf(line, sizeof line, "%04x  vendor %u\n\t0001  device of %u\n", v, v, v);
    text += line;
  }
  const PciIdsNames names(text);
  EXPECT_EQ(names.error_line(), 0u);
  for (unsigned v = 0x1000; v < 0x1000 + 3000; v += 97) {
    EXPECT_EQ(names.vendor(static_cast<std::uint16_t>(v)), "vendor " + std::to_string(v));
    EXPECT_EQ(names.device(static_cast<std::uint16_t>(v), 1), "device of " + std::to_string(v));
  }
}

TEST(PciIdsNames, LinesOf1023BytesOrMoreAreTooLongAsInLibpci) {
  const std::string fits = "1af4  " + std::string(1016, 'a') + "\n";  // 1022 bytes + newline
  const PciIdsNames ok(fits + "1b36  next\n");
  EXPECT_EQ(ok.error_line(), 0u);
  EXPECT_EQ(ok.vendor(0x1af4).size(), 1016u);
  EXPECT_EQ(ok.vendor(0x1b36), "next");

  const std::string too_long = "1af4  " + std::string(1017, 'a') + "\n";
  const PciIdsNames stopped("8086  Intel\n" + too_long + "1b36  next\n");
  EXPECT_EQ(stopped.error_line(), 2u);
  EXPECT_EQ(stopped.vendor(0x8086), "Intel");
  EXPECT_EQ(stopped.vendor(0x1af4), "Vendor 1af4");

  // The last line may end without a newline.
  const PciIdsNames last("8086  Intel");
  EXPECT_EQ(last.error_line(), 0u);
  EXPECT_EQ(last.vendor(0x8086), "Intel");
}

}  // namespace
}  // namespace pcipass::core
