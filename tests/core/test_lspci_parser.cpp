#include <pcipass/core/lspci_parser.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pcipass::core {
namespace {

// `lspci -Dvmmm` on the build machine (a QEMU guest, pciutils 3.9.0).
constexpr std::string_view k_real_plain =
    "Slot:\t0000:00:00.0\n"
    "Class:\tHost bridge\n"
    "Vendor:\tIntel Corporation\n"
    "Device:\tDevice 0d57\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:01.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc.\n"
    "Device:\tVirtio 1.0 memory balloon\n"
    "SVendor:\tRed Hat, Inc.\n"
    "SDevice:\tVirtio 1.0 memory balloon\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:02.0\n"
    "Class:\tMass storage controller\n"
    "Vendor:\tRed Hat, Inc.\n"
    "Device:\tVirtio 1.0 block device\n"
    "SVendor:\tRed Hat, Inc.\n"
    "SDevice:\tVirtio 1.0 block device\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:03.0\n"
    "Class:\tEthernet controller\n"
    "Vendor:\tRed Hat, Inc.\n"
    "Device:\tVirtio 1.0 network device\n"
    "SVendor:\tRed Hat, Inc.\n"
    "SDevice:\tVirtio 1.0 network device\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:04.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc.\n"
    "Device:\tVirtio 1.0 socket\n"
    "SVendor:\tRed Hat, Inc.\n"
    "SDevice:\tVirtio 1.0 socket\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:05.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc.\n"
    "Device:\tVirtio 1.0 RNG\n"
    "SVendor:\tRed Hat, Inc.\n"
    "SDevice:\tVirtio 1.0 RNG\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n";

// `lspci -Dvmmmnn` on the build machine (a QEMU guest, pciutils 3.9.0).
constexpr std::string_view k_real_nn =
    "Slot:\t0000:00:00.0\n"
    "Class:\tHost bridge [0600]\n"
    "Vendor:\tIntel Corporation [8086]\n"
    "Device:\tDevice [0d57]\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:01.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 memory balloon [1045]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 memory balloon [1045]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:02.0\n"
    "Class:\tMass storage controller [0180]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 block device [1042]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 block device [1042]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:03.0\n"
    "Class:\tEthernet controller [0200]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 network device [1041]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 network device [1041]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:04.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 socket [1053]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 socket [1053]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:05.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 RNG [1044]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 RNG [1044]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "\n";

// `lspci -Dvmmmnnk` on the build machine (a QEMU guest, pciutils 3.9.0).
constexpr std::string_view k_real_nnk =
    "Slot:\t0000:00:00.0\n"
    "Class:\tHost bridge [0600]\n"
    "Vendor:\tIntel Corporation [8086]\n"
    "Device:\tDevice [0d57]\n"
    "ProgIf:\t00\n"
    "\n"
    "Slot:\t0000:00:01.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 memory balloon [1045]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 memory balloon [1045]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "Driver:\tvirtio-pci\n"
    "\n"
    "Slot:\t0000:00:02.0\n"
    "Class:\tMass storage controller [0180]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 block device [1042]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 block device [1042]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "Driver:\tvirtio-pci\n"
    "\n"
    "Slot:\t0000:00:03.0\n"
    "Class:\tEthernet controller [0200]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 network device [1041]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 network device [1041]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "Driver:\tvirtio-pci\n"
    "\n"
    "Slot:\t0000:00:04.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 socket [1053]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 socket [1053]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "Driver:\tvirtio-pci\n"
    "\n"
    "Slot:\t0000:00:05.0\n"
    "Class:\tUnassigned class [ffff]\n"
    "Vendor:\tRed Hat, Inc. [1af4]\n"
    "Device:\tVirtio 1.0 RNG [1044]\n"
    "SVendor:\tRed Hat, Inc. [1af4]\n"
    "SDevice:\tVirtio 1.0 RNG [1044]\n"
    "Rev:\t01\n"
    "ProgIf:\t00\n"
    "Driver:\tvirtio-pci\n"
    "\n";

const PciDevice& device_at(const Inventory& inventory, std::string_view address) {
  const PciDevice* device = inventory.find(*PciAddress::parse(address));
  if (device == nullptr) throw std::runtime_error("no device at " + std::string(address));
  return *device;
}

Inventory parsed(std::string_view text) {
  auto inventory = parse_lspci_vmm(text);
  if (!inventory) throw std::runtime_error(inventory.error().message);
  return std::move(inventory).value();
}

TEST(LspciParser, ReadsRealPlainOutput) {
  const Inventory inventory = parsed(k_real_plain);
  ASSERT_EQ(inventory.devices().size(), 6u);
  EXPECT_FALSE(inventory.has_iommu_groups());

  const PciDevice& host_bridge = device_at(inventory, "0000:00:00.0");
  EXPECT_EQ(host_bridge.class_name, "Host bridge");
  EXPECT_EQ(host_bridge.vendor_name, "Intel Corporation");
  EXPECT_EQ(host_bridge.device_name, "Device 0d57");
  EXPECT_EQ(host_bridge.vendor_id, std::nullopt);
  // Without -nn a bridge's class still comes from its name, so a host or
  // ISA bridge is never taken for an endpoint a guest could get.
  EXPECT_EQ(host_bridge.class_code, 0x060000u);
  EXPECT_TRUE(host_bridge.stays_with_platform());
  EXPECT_STREQ(host_bridge.kind_name(), "host-bridge");
  EXPECT_EQ(host_bridge.revision, 0);  // lspci leaves out Rev 00
  EXPECT_EQ(host_bridge.header, HeaderKind::endpoint);

  const PciDevice& disk = device_at(inventory, "0000:00:02.0");
  EXPECT_EQ(disk.class_name, "Mass storage controller");
  EXPECT_EQ(disk.vendor_name, "Red Hat, Inc.");
  EXPECT_EQ(disk.device_name, "Virtio 1.0 block device");
  EXPECT_EQ(disk.subsystem_vendor_name, "Red Hat, Inc.");
  EXPECT_EQ(disk.subsystem_name, "Virtio 1.0 block device");
  EXPECT_EQ(disk.ids(), "");
  EXPECT_EQ(disk.revision, 1);
  EXPECT_EQ(disk.driver, "");

  // libpci prints a class whose sub-class pci.ids lacks as `name [id]` even
  // without -nn, so the class code is known here.
  const PciDevice& balloon = device_at(inventory, "0000:00:01.0");
  EXPECT_EQ(balloon.class_name, "Unassigned class");
  EXPECT_EQ(balloon.class_code, 0xffff00u);
}

TEST(LspciParser, ReadsRealOutputWithIds) {
  const Inventory inventory = parsed(k_real_nn);
  ASSERT_EQ(inventory.devices().size(), 6u);

  const PciDevice& host_bridge = device_at(inventory, "0000:00:00.0");
  EXPECT_EQ(host_bridge.ids(), "8086:0d57");
  EXPECT_EQ(host_bridge.device_name, "Device 0d57");
  EXPECT_EQ(host_bridge.class_code, 0x060000u);
  EXPECT_EQ(host_bridge.subsystem_vendor_id, std::nullopt);
  EXPECT_EQ(host_bridge.header, HeaderKind::endpoint);

  const PciDevice& disk = device_at(inventory, "0000:00:02.0");
  EXPECT_EQ(disk.ids(), "1af4:1042");
  EXPECT_EQ(disk.subsystem_vendor_id, 0x1af4);
  EXPECT_EQ(disk.subsystem_device_id, 0x1042);
  EXPECT_EQ(disk.class_code, 0x018000u);
  EXPECT_EQ(disk.class_name, "Mass storage controller");
  EXPECT_EQ(disk.vendor_name, "Red Hat, Inc.");
  EXPECT_EQ(disk.device_name, "Virtio 1.0 block device");
  EXPECT_EQ(disk.subsystem_name, "Virtio 1.0 block device");
  EXPECT_EQ(disk.revision, 1);

  const PciDevice& nic = device_at(inventory, "0000:00:03.0");
  EXPECT_EQ(nic.ids(), "1af4:1041");
  EXPECT_EQ(nic.class_code, 0x020000u);
}

TEST(LspciParser, ReadsRealOutputWithDrivers) {
  const Inventory inventory = parsed(k_real_nnk);
  EXPECT_EQ(device_at(inventory, "0000:00:00.0").driver, "");
  for (const char* address : {"0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0",
                              "0000:00:05.0"}) {
    EXPECT_EQ(device_at(inventory, address).driver, "virtio-pci") << address;
  }
}

TEST(LspciParser, GivesTheSameNamesWithAndWithoutIds) {
  const Inventory plain = parsed(k_real_plain);
  const Inventory with_ids = parsed(k_real_nn);
  ASSERT_EQ(plain.devices().size(), with_ids.devices().size());
  for (const auto& [address, device] : plain.devices()) {
    const PciDevice& other = device_at(with_ids, address.to_string());
    EXPECT_EQ(device.class_name, other.class_name) << address.to_string();
    EXPECT_EQ(device.vendor_name, other.vendor_name) << address.to_string();
    EXPECT_EQ(device.device_name, other.device_name) << address.to_string();
    EXPECT_EQ(device.subsystem_vendor_name, other.subsystem_vendor_name) << address.to_string();
    EXPECT_EQ(device.subsystem_name, other.subsystem_name) << address.to_string();
    EXPECT_EQ(device.revision, other.revision) << address.to_string();
  }
}

TEST(LspciParser, ReadsEveryField) {
  const Inventory inventory = parsed(
      "Slot:\t0000:2d:00.0\n"
      "Class:\tNon-Volatile memory controller [0108]\n"
      "Vendor:\tSamsung Electronics Co Ltd [144d]\n"
      "Device:\tNVMe SSD Controller PM9A1/PM9A3/980PRO [a80a]\n"
      "SVendor:\tSamsung Electronics Co Ltd [144d]\n"
      "SDevice:\tSSD 980 PRO [a801]\n"
      "PhySlot:\t4\n"
      "Rev:\t1a\n"
      "ProgIf:\t02\n"
      "Driver:\tnvme\n"
      "Module:\tnvme\n"
      "NUMANode:\t1\n"
      "IOMMUGroup:\t15\n");
  ASSERT_EQ(inventory.devices().size(), 1u);
  const PciDevice& nvme = device_at(inventory, "0000:2d:00.0");
  EXPECT_EQ(nvme.class_name, "Non-Volatile memory controller");
  EXPECT_EQ(nvme.class_code, 0x010802u);
  EXPECT_EQ(nvme.vendor_name, "Samsung Electronics Co Ltd");
  EXPECT_EQ(nvme.vendor_id, 0x144d);
  EXPECT_EQ(nvme.device_name, "NVMe SSD Controller PM9A1/PM9A3/980PRO");
  EXPECT_EQ(nvme.device_id, 0xa80a);
  EXPECT_EQ(nvme.subsystem_vendor_name, "Samsung Electronics Co Ltd");
  EXPECT_EQ(nvme.subsystem_vendor_id, 0x144d);
  EXPECT_EQ(nvme.subsystem_name, "SSD 980 PRO");
  EXPECT_EQ(nvme.subsystem_device_id, 0xa801);
  EXPECT_EQ(nvme.revision, 0x1a);
  EXPECT_EQ(nvme.driver, "nvme");
  EXPECT_EQ(nvme.numa_node, 1);
  EXPECT_EQ(nvme.iommu_group, 15u);
  EXPECT_EQ(nvme.header, HeaderKind::endpoint);
  EXPECT_EQ(nvme.physical_function, std::nullopt);

  ASSERT_NE(inventory.group(15), nullptr);
  EXPECT_EQ(inventory.group(15)->members, std::vector<PciAddress>{nvme.address});
}

TEST(LspciParser, AcceptsSlotsWithoutDomain) {
  const Inventory inventory = parsed("Slot:\t2d:00.1\nClass:\tAudio device\n");
  EXPECT_NE(inventory.find(*PciAddress::parse("0000:2d:00.1")), nullptr);
}

TEST(LspciParser, TellsBridgesByClassIdOrName) {
  const Inventory inventory = parsed(
      "Slot:\t0000:00:1c.0\nClass:\tPCI bridge [0604]\nProgIf:\t00\n\n"
      "Slot:\t0000:00:1c.4\nClass:\tPCI bridge\n\n"
      "Slot:\t0000:02:00.0\nClass:\tCardBus bridge\n\n"
      "Slot:\t0000:00:1e.0\nClass:\tSemi-transparent PCI-to-PCI bridge [0609]\nProgIf:\t01\n\n"
      "Slot:\t0000:00:1f.0\nClass:\tISA bridge\n\n"
      "Slot:\t0000:00:1f.3\nClass:\tAudio device [0403]\n\n"
      "Slot:\t0000:00:1f.4\nVendor:\tIntel Corporation\n");
  EXPECT_EQ(device_at(inventory, "0000:00:1c.0").header, HeaderKind::bridge);
  EXPECT_EQ(device_at(inventory, "0000:00:1c.4").header, HeaderKind::bridge);
  EXPECT_EQ(device_at(inventory, "0000:02:00.0").header, HeaderKind::bridge);
  EXPECT_EQ(device_at(inventory, "0000:00:1e.0").header, HeaderKind::bridge);
  EXPECT_EQ(device_at(inventory, "0000:00:1e.0").class_code, 0x060901u);
  EXPECT_EQ(device_at(inventory, "0000:00:1f.0").header, HeaderKind::endpoint);
  EXPECT_EQ(device_at(inventory, "0000:00:1f.3").header, HeaderKind::endpoint);
  EXPECT_EQ(device_at(inventory, "0000:00:1f.3").class_code, 0x040300u);  // ProgIf left out
  EXPECT_EQ(device_at(inventory, "0000:00:1f.4").header, HeaderKind::unknown);
}

TEST(LspciParser, ReadsVirtualFunctionsAsPlainFunctions) {
  // lspci does not print SR-IOV links: VFs are functions of their own.
  const Inventory inventory = parsed(
      "Slot:\t0000:3b:00.0\n"
      "Class:\tEthernet controller [0200]\n"
      "Vendor:\tIntel Corporation [8086]\n"
      "Device:\tEthernet Controller E810-C for QSFP [1592]\n"
      "Driver:\tice\n"
      "IOMMUGroup:\t40\n"
      "\n"
      "Slot:\t0000:3b:01.0\n"
      "Class:\tEthernet controller [0200]\n"
      "Vendor:\tIntel Corporation [8086]\n"
      "Device:\tEthernet Adaptive Virtual Function [1889]\n"
      "Rev:\t02\n"
      "Driver:\tiavf\n"
      "IOMMUGroup:\t41\n"
      "\n"
      "Slot:\t0000:3b:01.1\n"
      "Class:\tEthernet controller [0200]\n"
      "Vendor:\tIntel Corporation [8086]\n"
      "Device:\tEthernet Adaptive Virtual Function [1889]\n"
      "Rev:\t02\n"
      "Driver:\tvfio-pci\n"
      "IOMMUGroup:\t42\n");
  ASSERT_EQ(inventory.devices().size(), 3u);
  const PciDevice& vf = device_at(inventory, "0000:3b:01.1");
  EXPECT_EQ(vf.ids(), "8086:1889");
  EXPECT_TRUE(vf.on_vfio());
  EXPECT_EQ(vf.physical_function, std::nullopt);
  EXPECT_TRUE(device_at(inventory, "0000:3b:00.0").virtual_functions.empty());
  EXPECT_EQ(inventory.groups().size(), 3u);
}

TEST(LspciParser, BuildsGroupsWithSeveralMembers) {
  const Inventory inventory = parsed(
      "Slot:\t0000:01:00.0\nClass:\tVGA compatible controller [0300]\nIOMMUGroup:\t12\n\n"
      "Slot:\t0000:01:00.1\nClass:\tAudio device [0403]\nIOMMUGroup:\t12\n\n"
      "Slot:\t0000:00:01.0\nClass:\tPCI bridge [0604]\nIOMMUGroup:\t12\n");
  ASSERT_NE(inventory.group(12), nullptr);
  EXPECT_EQ(inventory.group(12)->members,
            (std::vector<PciAddress>{*PciAddress::parse("00:01.0"), *PciAddress::parse("01:00.0"),
                                     *PciAddress::parse("01:00.1")}));
}

TEST(LspciParser, TakesOnlyATrailingFourDigitSuffixAsId) {
  const Inventory inventory = parsed(
      "Slot:\t00:00.0\nDevice:\tGA102 [GeForce RTX 3080] [2206]\n\n"
      "Slot:\t00:00.1\nDevice:\tGA102 [GeForce RTX 3080]\n\n"
      "Slot:\t00:00.2\nDevice:\tWidget [12345]\n\n"
      "Slot:\t00:00.3\nDevice:\tWidget[1234]\n\n"
      "Slot:\t00:00.4\nDevice:\tWidget [12g4]\n\n"
      "Slot:\t00:00.5\nDevice:\tWidget [abCD] \n\n"
      "Slot:\t00:00.6\nDevice:\t[1234]\n");
  EXPECT_EQ(device_at(inventory, "00:00.0").device_name, "GA102 [GeForce RTX 3080]");
  EXPECT_EQ(device_at(inventory, "00:00.0").device_id, 0x2206);
  EXPECT_EQ(device_at(inventory, "00:00.1").device_name, "GA102 [GeForce RTX 3080]");
  EXPECT_EQ(device_at(inventory, "00:00.1").device_id, std::nullopt);
  EXPECT_EQ(device_at(inventory, "00:00.2").device_name, "Widget [12345]");
  EXPECT_EQ(device_at(inventory, "00:00.2").device_id, std::nullopt);
  EXPECT_EQ(device_at(inventory, "00:00.3").device_name, "Widget[1234]");
  EXPECT_EQ(device_at(inventory, "00:00.3").device_id, std::nullopt);
  EXPECT_EQ(device_at(inventory, "00:00.4").device_name, "Widget [12g4]");
  EXPECT_EQ(device_at(inventory, "00:00.4").device_id, std::nullopt);
  // Values are trimmed before the suffix is looked for.
  EXPECT_EQ(device_at(inventory, "00:00.5").device_name, "Widget");
  EXPECT_EQ(device_at(inventory, "00:00.5").device_id, 0xabcd);
  EXPECT_EQ(device_at(inventory, "00:00.6").device_name, "");
  EXPECT_EQ(device_at(inventory, "00:00.6").device_id, 0x1234);
}

TEST(LspciParser, SpellsUnknownIdsLikePlainLspci) {
  const Inventory inventory = parsed(
      "Slot:\t00:00.0\n"
      "Class:\tClass [1234]\n"
      "Vendor:\tVendor [1d0f]\n"
      "Device:\tDevice [0d57]\n"
      "SVendor:\tUnknown vendor [abcd]\n"
      "SDevice:\tDevice [0001]\n");
  const PciDevice& device = device_at(inventory, "00:00.0");
  EXPECT_EQ(device.class_name, "Class 1234");
  EXPECT_EQ(device.class_code, 0x123400u);
  EXPECT_EQ(device.vendor_name, "Vendor 1d0f");
  EXPECT_EQ(device.device_name, "Device 0d57");
  EXPECT_EQ(device.subsystem_vendor_name, "Unknown vendor abcd");
  EXPECT_EQ(device.subsystem_name, "Device 0001");
  EXPECT_EQ(device.ids(), "1d0f:0d57");
}

TEST(LspciParser, SanitizesHostileNames) {
  const Inventory inventory = parsed(
      "Slot:\t00:00.0\n"
      "Vendor:\tEvil \"Corp\" 'Ltd' [1234]\n"
      "Device:\t$(shell,rm -rf /) `reboot` [5678]\n"
      "SVendor:\tBad\xff\xfe bytes\x1b[31m\n"
      "SDevice:\tTab\there\n"
      "Class:\t\xc3\xa9t\xc3\xa9 [0200]\n"
      "Driver:\tnv\x01me\n");
  const PciDevice& device = device_at(inventory, "00:00.0");
  EXPECT_EQ(device.vendor_name, "Evil \"Corp\" 'Ltd'");
  EXPECT_EQ(device.vendor_id, 0x1234);
  EXPECT_EQ(device.device_name, "$(shell,rm -rf /) `reboot`");
  EXPECT_EQ(device.device_id, 0x5678);
  EXPECT_EQ(device.subsystem_vendor_name, "Bad\xef\xbf\xbd\xef\xbf\xbd bytes [31m");
  EXPECT_EQ(device.subsystem_name, "Tab here");
  EXPECT_EQ(device.class_name, "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(device.driver, "nv me");
}

TEST(LspciParser, IgnoresUnknownKeysAndWindowsLineEnds) {
  const Inventory inventory = parsed(
      "Slot:\t0000:00:02.0\r\n"
      "Class:\tMass storage controller [0180]\r\n"
      "Frobnication:\tfull\r\n"
      "Module:\tvirtio_pci\r\n"
      "DeviceName:\tOnboard disk\r\n"
      "Rev:\t01\r\n"
      "\r\n");
  const PciDevice& disk = device_at(inventory, "0000:00:02.0");
  EXPECT_EQ(disk.class_code, 0x018000u);
  EXPECT_EQ(disk.revision, 1);
}

TEST(LspciParser, AcceptsASpaceAfterTheColonAndEmptyValues) {
  const Inventory inventory =
      parsed("Slot: 0000:00:02.0\nVendor: Red Hat, Inc. [1af4]\nSVendor:\n");
  const PciDevice& disk = device_at(inventory, "0000:00:02.0");
  EXPECT_EQ(disk.vendor_id, 0x1af4);
  EXPECT_EQ(disk.subsystem_vendor_name, "");
}

TEST(LspciParser, ReadsNegativeNumaNodeAsUnknown) {
  const Inventory inventory = parsed("Slot:\t00:02.0\nNUMANode:\t-1\n");
  EXPECT_EQ(device_at(inventory, "00:02.0").numa_node, std::nullopt);
}

TEST(LspciParser, GivesAnEmptyInventoryForEmptyText) {
  for (std::string_view text : {"", "\n", "\n\n  \n\t\n"}) {
    auto inventory = parse_lspci_vmm(text);
    ASSERT_TRUE(inventory) << inventory.error().message;
    EXPECT_TRUE(inventory->devices().empty());
    EXPECT_TRUE(inventory->groups().empty());
  }
}

struct Rejected {
  const char* name;
  std::string_view input;
  const char* message;
};

void PrintTo(const Rejected& rejected, std::ostream* out) { *out << rejected.name; }

class LspciParserRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(LspciParserRejects, WithLineNumberAndReason) {
  auto inventory = parse_lspci_vmm(GetParam().input);
  ASSERT_FALSE(inventory);
  EXPECT_EQ(inventory.error().code, ExitCode::bad_input);
  EXPECT_EQ(inventory.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    BadText, LspciParserRejects,
    ::testing::Values(
        Rejected{"RecordWithoutSlot", "Slot:\t00:01.0\n\nClass:\tHost bridge\nVendor:\tIntel\n",
                 "lspci output line 3: the record starting here has no Slot line (run lspci "
                 "with -vmm)"},
        Rejected{"SingleMachineFlag", "Device:\t00:02.0\nClass:\tMass storage controller\n",
                 "lspci output line 1: the record starting here has no Slot line (run lspci "
                 "with -vmm)"},
        Rejected{"SlotAboveRange", "Slot:\t0000:00:20.0\n",
                 "lspci output line 1: invalid PCI address '0000:00:20.0': slot 0x20 is above "
                 "0x1f; expected DDDD:BB:SS.F (e.g. 0000:2d:00.0), BB:SS.F or pci_DDDD_BB_SS_F"},
        Rejected{"EmptySlot", "Class:\tHost bridge\nSlot:\t\n",
                 "lspci output line 2: invalid PCI address '': it is empty; expected "
                 "DDDD:BB:SS.F (e.g. 0000:2d:00.0), BB:SS.F or pci_DDDD_BB_SS_F"},
        Rejected{"LineWithoutColon", "Slot:\t00:01.0\ngarbage\n",
                 "lspci output line 2: expected 'Key:<tab>value' or a blank line, got "
                 "'garbage'"},
        Rejected{"ColonWithoutSeparator", "Slot:00:01.0\n",
                 "lspci output line 1: expected 'Key:<tab>value' or a blank line, got "
                 "'Slot:00:01.0'"},
        Rejected{"EmptyKey", ":\tvalue\n",
                 "lspci output line 1: expected 'Key:<tab>value' or a blank line, got "
                 "':\\x09value'"},
        Rejected{"HostileLine", "Slot:\t00:01.0\n\x01\xff'\\ x\n",
                 "lspci output line 2: expected 'Key:<tab>value' or a blank line, got "
                 "'\\x01\\xff\\x27\\x5c x'"},
        Rejected{"DuplicateSlot", "Slot:\t0000:00:02.0\n\nSlot:\t00:01.0\n\nSlot:\t00:02.0\n",
                 "lspci output line 5: slot 0000:00:02.0 appears twice (first on line 1)"},
        Rejected{"TwoSlotsInOneRecord", "Slot:\t00:01.0\nClass:\tHost bridge\nSlot:\t00:02.0\n",
                 "lspci output line 3: a second Slot line in one record (records are "
                 "separated by blank lines)"},
        Rejected{"NonHexRev", "Slot:\t00:01.0\nRev:\tzz\n",
                 "lspci output line 2: Rev 'zz' is not a hexadecimal byte"},
        Rejected{"RevAboveByte", "Slot:\t00:01.0\nRev:\t100\n",
                 "lspci output line 2: Rev '100' is not a hexadecimal byte"},
        Rejected{"EmptyRev", "Slot:\t00:01.0\nRev:\t\n",
                 "lspci output line 2: Rev '' is not a hexadecimal byte"},
        Rejected{"NonHexProgIf", "Slot:\t00:01.0\nProgIf:\t-1\n",
                 "lspci output line 2: ProgIf '-1' is not a hexadecimal byte"},
        Rejected{"NonNumericGroup", "Slot:\t00:01.0\nIOMMUGroup:\t1a\n",
                 "lspci output line 2: IOMMUGroup '1a' is not a group number"},
        Rejected{"NegativeGroup", "Slot:\t00:01.0\nIOMMUGroup:\t-3\n",
                 "lspci output line 2: IOMMUGroup '-3' is not a group number"},
        Rejected{"HugeGroup", "Slot:\t00:01.0\nIOMMUGroup:\t4294967296\n",
                 "lspci output line 2: IOMMUGroup '4294967296' is not a group number"},
        Rejected{"NonNumericNumaNode", "Slot:\t00:01.0\nNUMANode:\tnode0\n",
                 "lspci output line 2: NUMANode 'node0' is not a node number"}),
    [](const ::testing::TestParamInfo<Rejected>& test) { return std::string(test.param.name); });

// Fuzzing comes later; until then every prefix and byte-flipped copy of real
// output must parse or fail cleanly (run under PCIPASS_SANITIZE to catch
// out-of-bounds reads).
TEST(LspciParser, NeverCrashesOnMangledInput) {
  const std::string real(k_real_nnk);
  for (std::size_t length = 0; length <= real.size(); ++length) {
    (void)parse_lspci_vmm(std::string_view(real).substr(0, length));
  }
  std::mt19937 random(20240601);
  std::uniform_int_distribution<std::size_t> position(0, real.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string mangled = real;
    for (int flip = 0; flip < 4; ++flip) {
      mangled[position(random)] = static_cast<char>(byte(random));
    }
    (void)parse_lspci_vmm(mangled);
  }
}

}  // namespace
}  // namespace pcipass::core
