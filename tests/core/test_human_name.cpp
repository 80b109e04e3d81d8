#include <pcipass/core/group_status.hpp>
#include <pcipass/core/human_name.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

PciDevice device(const char* address, std::uint32_t cls) {
  PciDevice d;
  d.address = *PciAddress::parse(address);
  d.vendor_id = 0x144d;
  d.device_id = 0xa80a;
  d.class_code = cls;
  d.vendor_name = "Samsung Electronics Co Ltd";
  d.device_name = "NVMe SSD Controller PM9A1/PM9A3/980PRO";
  d.header = HeaderKind::endpoint;
  return d;
}

TEST(HumanName, NvmeShowsBlockDeviceModelAndFirmware) {
  PciDevice d = device("0000:01:00.0", 0x010802);
  d.nvme.push_back({"nvme0", "Samsung SSD 980 PRO 1TB", "5B2QGXA7", "S5", {"nvme0n1"}});
  EXPECT_EQ(HumanNamer::with_default_providers().name(d),
            "/dev/nvme0n1 - Samsung SSD 980 PRO 1TB with FW 5B2QGXA7");
}

TEST(HumanName, NvmeWithoutNamespacesNamesTheController) {
  PciDevice d = device("0000:01:00.0", 0x010802);
  d.nvme.push_back({"nvme1", "", "1.0", "", {}});
  EXPECT_EQ(*nvme_human_name(d), "/dev/nvme1 - FW 1.0");
}

TEST(HumanName, GpuShowsMemoryWhenKnown) {
  PciDevice d = device("0000:2d:00.0", 0x030000);
  d.vendor_name = "Advanced Micro Devices, Inc. [AMD/ATI]";
  d.device_name = "Navi 23";
  d.memory_bytes = 8ull << 30;
  EXPECT_EQ(HumanNamer::with_default_providers().name(d),
            "Advanced Micro Devices, Inc. [AMD/ATI] Navi 23 with 8 GiB");
  d.memory_bytes.reset();
  EXPECT_EQ(*gpu_human_name(d), "Advanced Micro Devices, Inc. [AMD/ATI] Navi 23");
}

TEST(HumanName, NicShowsInterfacesAndLinkState) {
  PciDevice d = device("0000:05:00.0", 0x020000);
  d.vendor_name = "Intel Corporation";
  d.device_name = "Ethernet Controller I225-V";
  d.net = {{"enp5s0", "up"}, {"enp5s0d1", "unknown"}};
  EXPECT_EQ(HumanNamer::with_default_providers().name(d),
            "Intel Corporation Ethernet Controller I225-V (enp5s0 up, enp5s0d1)");
}

TEST(HumanName, FallsBackToDatabaseNameThenIds) {
  PciDevice d = device("0000:06:00.0", 0x0c0330);
  d.vendor_name = "";
  d.device_name = "";
  EXPECT_EQ(HumanNamer::with_default_providers().name(d), "Vendor 144d Device a80a");
}

TEST(HumanName, ExtraProvidersComeAfterTheBuiltIns) {
  HumanNamer namer = HumanNamer::with_default_providers();
  namer.add_provider("cxl", [](const PciDevice& d) -> std::optional<std::string> {
    if (d.class_id() == 0x0502) return "CXL memory device";
    return std::nullopt;
  });
  EXPECT_EQ(namer.name(device("0000:07:00.0", 0x050210)), "CXL memory device");
}

TEST(FormatBytes, UsesBinaryUnits) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(8573157376ull), "8.0 GiB");
  EXPECT_EQ(format_bytes(16ull << 30), "16 GiB");
}

TEST(GroupStatus, HostUseBlocksHostDriversNeedBind) {
  Inventory inv;
  PciDevice gpu = device("0000:2d:00.0", 0x030000);
  gpu.driver = "amdgpu";
  gpu.iommu_group = 5;
  PciDevice audio = device("0000:2d:00.1", 0x040300);
  audio.driver = "vfio-pci";
  audio.iommu_group = 5;
  PciDevice bridge = device("0000:00:01.0", 0x060400);
  bridge.header = HeaderKind::bridge;
  bridge.driver = "pcieport";
  bridge.iommu_group = 5;
  inv.add(gpu);
  inv.add(audio);
  inv.add(bridge);
  inv.rebuild_groups();
  GroupStatus s = assess_group(inv, *inv.group(5));
  EXPECT_EQ(s.readiness, GroupReadiness::needs_bind);
  ASSERT_EQ(s.endpoints.size(), 2u);
  EXPECT_EQ(s.reasons, std::vector<std::string>{"0000:2d:00.0 is on host driver amdgpu"});

  inv.find(*PciAddress::parse("0000:2d:00.0"))->host_uses = {"boot VGA device"};
  s = assess_group(inv, *inv.group(5));
  EXPECT_EQ(s.readiness, GroupReadiness::blocked);
  EXPECT_EQ(s.reasons, std::vector<std::string>{"0000:2d:00.0 is used by the host: boot VGA device"});

  inv.find(*PciAddress::parse("0000:2d:00.0"))->host_uses.clear();
  inv.find(*PciAddress::parse("0000:2d:00.0"))->driver = "";
  s = assess_group(inv, *inv.group(5));
  EXPECT_EQ(s.readiness, GroupReadiness::ready);
  EXPECT_TRUE(s.reasons.empty());
}

TEST(KdevopsName, NamesDevicesAsKdevopsGeneratorDoes) {
  // NVMe: the controller (kdevops lists the nvme/ folder), not the namespace.
  PciDevice zns = device("0000:02:00.0", 0x010802);
  zns.iommu_group = 9;
  zns.subsystem_name = "Ultrastar DC ZN540 ZNS NVMe SSD";
  zns.nvme = {{"nvme1", "WZS4C8T4TDSP303", "R1110021", "", {"nvme1n1"}}};
  EXPECT_EQ(kdevops_device_name(zns),
            "0000:02:00.0 IOMMU group 9 - /dev/nvme1 - WZS4C8T4TDSP303 with FW R1110021");
  zns.nvme[0].firmware.clear();  // kdevops needs both, else the default name
  EXPECT_EQ(kdevops_display_name(zns), "Ultrastar DC ZN540 ZNS NVMe SSD");

  // GPUs: the marketing name in brackets and the VRAM in whole GB.
  PciDevice gpu = device("0000:2d:00.0", 0x030000);
  gpu.device_name = "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]";
  gpu.memory_bytes = 16ull << 30;
  EXPECT_EQ(kdevops_display_name(gpu), "GPU - Radeon RX 6800/6800 XT / 6900 XT 16GB");
  gpu.device_name = "TU104GL [Quadro RTX 4000]";
  gpu.memory_source = MemorySource::prefetchable_bar;
  gpu.memory_bytes = 256ull << 20;  // a BAR under 1 GiB says nothing of the VRAM
  EXPECT_EQ(kdevops_display_name(gpu), "GPU - Quadro RTX 4000");
  gpu.device_name = "NVIDIA Corporation GA100 [A100 PCIe 40GB]";
  gpu.memory_bytes.reset();
  EXPECT_EQ(kdevops_display_name(gpu), "GPU - NVIDIA A100 PCIe");

  // Anything else: the subsystem's name, quotes dropped as kdevops drops them.
  PciDevice nic = device("0000:05:00.0", 0x020000);
  nic.iommu_group = 12;
  nic.device_name = "I210 Gigabit";
  nic.subsystem_name = "Board's \"fast\" port";
  EXPECT_EQ(kdevops_device_name(nic), "0000:05:00.0 IOMMU group 12 - Boards fast port");
  nic.iommu_group.reset();
  EXPECT_EQ(kdevops_device_name(nic), "");
}

}  // namespace
}  // namespace pcipass::core
