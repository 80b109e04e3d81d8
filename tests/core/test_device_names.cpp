// The names a DEV argument may use, resolved on an inventory.

#include "support/test_devices.hpp"

#include <pcipass/core/device_names.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using test::addr;

Inventory lab() {
  PciDevice a = test::device("0000:02:00.0", 0x144d, 0xa80c, 0x010802, "nvme", 7);
  a.nvme = {{"nvme1", "M", "F", "S1", {"nvme1n1", "nvme1n2"}}};
  a.dsn = "00-25-38-4a-31-40-00-01";
  PciDevice b = test::device("0000:03:00.0", 0x144d, 0xa80c, 0x010802, "nvme", 8);
  b.nvme = {{"nvme2", "M", "F", "S2", {"nvme2n1"}}};
  PciDevice nic = test::device("0000:05:00.0", 0x8086, 0x1533, 0x020000, "igb", 9);
  nic.net = {{"enp5s0", "up", "a0:36:9f:12:34:57", true}};
  PciDevice twin_nic = test::device("0000:06:00.0", 0x8086, 0x1533, 0x020000, "igb", 10);
  twin_nic.vpd_serial = "SHARED";
  nic.vpd_serial = "SHARED";
  return test::inventory_of({a, b, nic, twin_nic});
}

PciAddress resolved(const char* text) { return resolve_device_name(text, lab()).value(); }

TEST(DeviceNames, EveryNameKindFindsItsDevice) {
  EXPECT_EQ(resolved("0000:03:00.0"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("03:00.0"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("pci_0000_03_00_0"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("serial:S2"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("serial:00-25-38-4a-31-40-00-01"), addr("0000:02:00.0"));
  EXPECT_EQ(resolved("serial:a0:36:9f:12:34:57"), addr("0000:05:00.0"));
  EXPECT_EQ(resolved("/dev/nvme1n2"), addr("0000:02:00.0"));
  EXPECT_EQ(resolved("nvme1n1p3"), addr("0000:02:00.0"));  // a partition names its disk
  EXPECT_EQ(resolved("nvme2"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("/dev/nvme2"), addr("0000:03:00.0"));
  EXPECT_EQ(resolved("enp5s0"), addr("0000:05:00.0"));
}

TEST(DeviceNames, UnknownAndAmbiguousNamesSayWhat) {
  const auto unknown = resolve_device_name("nvme9", lab());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ExitCode::usage);
  EXPECT_EQ(unknown.error().message,
            "'nvme9': no device on this host has that name (give an address (0000:02:00.0), "
            "pci_DDDD_BB_SS_F, serial:SERIAL, an NVMe device (/dev/nvme1n1, nvme1) or a network "
            "interface (enp5s0))");
  const auto shared = resolve_device_name("serial:SHARED", lab());
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().message,
            "'serial:SHARED' names several devices: 0000:05:00.0, 0000:06:00.0; give the address");
  EXPECT_FALSE(resolve_device_name("serial:", lab()));
  EXPECT_FALSE(resolve_device_name("nvme1n", lab()));  // no such namespace
}

TEST(DeviceNames, OnlyNamesNeedTheInventory) {
  for (const char* name : {"serial:S1", "/dev/nvme1n1", "nvme1", "enp5s0", "eth0"}) {
    EXPECT_TRUE(is_device_name(name)) << name;
  }
  // Addresses, right or malformed, stay addresses (and their own errors).
  for (const char* address : {"0000:02:00.0", "02:00.0", "pci_0000_02_00_0", "zz:00.0", "2d:00",
                              "12", ""}) {
    EXPECT_FALSE(is_device_name(address)) << address;
  }
}

}  // namespace
}  // namespace pcipass::core
