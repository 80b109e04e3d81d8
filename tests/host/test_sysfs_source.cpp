#include "support/faulty_sysfs.hpp"
#include "support/sim_host.hpp"

#include <pcipass/host/complete_inventory.hpp>
#include <pcipass/host/libpci_names.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

namespace pcipass::host {
namespace {

using core::PciAddress;
using test::sim_host;

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

core::Inventory complete_workstation() {
  const auto root = sim_host("workstation");
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  LibpciNames names;
  auto inventory = read_sysfs_inventory(sys);
  EXPECT_TRUE(inventory) << inventory.error().message;
  const LocalHost local{sys, proc};
  complete_inventory(*inventory, names, &local, HaveDetails::yes);
  return std::move(inventory).value_or_throw();
}

TEST(SysfsSource, ReadsIdentityFromConfigSpace) {
  const core::Inventory inv = complete_workstation();
  EXPECT_EQ(inv.devices().size(), 18u);
  const core::PciDevice* nvme = inv.find(addr("0000:01:00.0"));
  ASSERT_NE(nvme, nullptr);
  EXPECT_EQ(nvme->ids(), "144d:a80a");
  EXPECT_EQ(nvme->subsystem_vendor_id, 0x144d);
  EXPECT_EQ(nvme->subsystem_device_id, 0xa801);
  EXPECT_EQ(nvme->class_code, 0x010802u);
  EXPECT_EQ(nvme->header, core::HeaderKind::endpoint);
  EXPECT_EQ(nvme->driver, "nvme");
  EXPECT_EQ(nvme->iommu_group, 8u);
  EXPECT_EQ(nvme->class_name, "Non-Volatile memory controller");
  EXPECT_EQ(nvme->vendor_name, "Samsung Electronics Co Ltd");

  const core::PciDevice* bridge = inv.find(addr("0000:00:01.1"));
  ASSERT_NE(bridge, nullptr);
  EXPECT_EQ(bridge->header, core::HeaderKind::bridge);
  EXPECT_STREQ(bridge->kind_name(), "bridge");
  EXPECT_STREQ(inv.find(addr("0000:00:00.0"))->kind_name(), "host-bridge");
}

TEST(SysfsSource, ReadsHumanNameDetails) {
  const core::Inventory inv = complete_workstation();
  EXPECT_EQ(inv.find(addr("0000:01:00.0"))->human_name,
            "/dev/nvme0n1 - Samsung SSD 980 PRO 1TB with FW 5B2QGXA7");
  const core::PciDevice* gpu = inv.find(addr("0000:2d:00.0"));
  EXPECT_EQ(gpu->memory_bytes, 8573157376u);
  EXPECT_TRUE(gpu->boot_vga);
  const core::PciDevice* nic = inv.find(addr("0000:05:00.0"));
  ASSERT_EQ(nic->net.size(), 1u);
  EXPECT_EQ(nic->net[0].name, "enp5s0");
  EXPECT_EQ(nic->net[0].operstate, "up");
}

TEST(SysfsSource, BuildsIommuGroupsFromLinks) {
  const core::Inventory inv = complete_workstation();
  ASSERT_TRUE(inv.has_iommu_groups());
  const core::IommuGroup* gpu_group = inv.group(15);
  ASSERT_NE(gpu_group, nullptr);
  EXPECT_EQ(gpu_group->members, (std::vector<PciAddress>{addr("0000:2d:00.0"), addr("0000:2d:00.1")}));
}

TEST(SysfsSource, ReadsSriovLinks) {
  const auto root = sim_host("server");
  RealSysfs sys(root / "sys");
  auto inv = read_sysfs_inventory(sys);
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_GE(inv->devices().size(), 4096u);
  std::size_t pfs = 0;
  std::size_t vfs = 0;
  for (const auto& [address, d] : inv->devices()) {
    if (!d.virtual_functions.empty()) {
      ++pfs;
      EXPECT_EQ(d.virtual_functions.size(), 63u) << address.to_string();
      EXPECT_GE(d.sriov_total_vfs.value_or(0), 63u);
      EXPECT_EQ(d.sriov_num_vfs, 63u);
      for (const PciAddress& vf : d.virtual_functions) {
        const core::PciDevice* v = inv->find(vf);
        ASSERT_NE(v, nullptr) << vf.to_string();
        EXPECT_EQ(v->physical_function, address);
      }
    }
    if (d.physical_function) ++vfs;
  }
  EXPECT_EQ(pfs, 64u);
  EXPECT_EQ(vfs, 64u * 63u);
}

TEST(SysfsSource, HostWithoutIommuHasNoGroups) {
  const auto root = sim_host("noiommu");
  RealSysfs sys(root / "sys");
  auto inv = read_sysfs_inventory(sys);
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_FALSE(inv->devices().empty());
  EXPECT_FALSE(inv->has_iommu_groups());
}

TEST(SysfsSource, UnreadableAttributeFailsTheWholeInventoryWithPathAndReason) {
  const auto root = sim_host("workstation");
  test::FaultySysfs sys(root / "sys");
  // Config space unreadable forces the attribute files; make `vendor` fail.
  sys.fail_read("bus/pci/devices/0000:02:00.0/config", EIO);
  sys.fail_read("bus/pci/devices/0000:02:00.0/vendor", EACCES);
  auto inv = read_sysfs_inventory(sys);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, core::ExitCode::host_error);
  EXPECT_EQ(inv.error().message, "reading " + (root / "sys").string() +
                                     "/bus/pci/devices/0000:02:00.0/vendor: Permission denied");
}

TEST(SysfsSource, FallsBackToAttributeFilesWhenConfigSpaceIsUnreadable) {
  const auto root = sim_host("workstation");
  test::FaultySysfs sys(root / "sys");
  sys.fail_read("bus/pci/devices/0000:02:00.0/config", EACCES);
  auto inv = read_sysfs_inventory(sys);
  ASSERT_TRUE(inv) << inv.error().message;
  const core::PciDevice* d = inv->find(addr("0000:02:00.0"));
  EXPECT_EQ(d->ids(), "1b96:2600");
  EXPECT_EQ(d->class_code, 0x010802u);
  EXPECT_EQ(d->header, core::HeaderKind::endpoint);
}

TEST(SysfsSource, MalformedAttributeNamesTheFileAndValue) {
  test::TempDir dir;
  const auto dev = dir.path() / "bus/pci/devices/0000:00:02.0";
  std::filesystem::create_directories(dev);
  auto write = [&](const char* name, const std::string& value) {
    std::FILE* f = std::fopen((dev / name).c_str(), "w");
    std::fputs(value.c_str(), f);
    std::fclose(f);
  };
  write("vendor", "0x1af4\n");
  write("device", "0x1042\n");
  write("class", "0x018000\n");
  write("numa_node", "banana\n");
  RealSysfs sys(dir.path());
  auto inv = read_sysfs_inventory(sys);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().message, "reading " + dir.path().string() +
                                     "/bus/pci/devices/0000:00:02.0/numa_node: unexpected value 'banana'");
}

TEST(SysfsSource, NotASysfsRootSaysSo) {
  RealSysfs sys("/nonexistent");
  auto inv = read_sysfs_inventory(sys);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, core::ExitCode::host_error);
  EXPECT_EQ(inv.error().message,
            "cannot list PCI devices: listing /nonexistent/bus/pci/devices: No such file or "
            "directory (is this a sysfs root? pass --sysfs-root DIR)");
}

}  // namespace
}  // namespace pcipass::host
