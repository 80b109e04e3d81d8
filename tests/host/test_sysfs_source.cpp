#include "support/faulty_sysfs.hpp"
#include "support/inventory_compare.hpp"
#include "support/sim_host.hpp"

#include <pcipass/host/complete_inventory.hpp>
#include <pcipass/host/libpci_names.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

namespace pcipass::host {
namespace {

using core::PciAddress;
using test::sim_host;

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

core::Inventory complete_host(const char* name) {
  const auto root = sim_host(name);
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  LibpciNames names;
  auto inventory = read_sysfs_inventory(sys);
  EXPECT_TRUE(inventory) << inventory.error().message;
  const LocalHost local{sys, proc};
  complete_inventory(*inventory, names, &local, HaveDetails::yes);
  return std::move(inventory).value_or_throw();
}

core::Inventory complete_workstation() { return complete_host("workstation"); }

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
  EXPECT_EQ(gpu->memory_source, core::MemorySource::driver);  // amdgpu says
  EXPECT_TRUE(gpu->boot_vga);
  const core::PciDevice* nic = inv.find(addr("0000:05:00.0"));
  ASSERT_EQ(nic->net.size(), 1u);
  EXPECT_EQ(nic->net[0].name, "enp5s0");
  EXPECT_EQ(nic->net[0].operstate, "up");
}

// i915 (and nvidia, nouveau) say nothing of the memory size: the largest
// prefetchable BAR is the window on it. The laptop's iGPU has a 16 MiB
// register BAR and a 256 MiB prefetchable one.
TEST(SysfsSource, AGpuWhoseDriverIsSilentGetsItsPrefetchableBar) {
  const core::Inventory inv = complete_host("laptop");
  const core::PciDevice* gpu = inv.find(addr("0000:00:02.0"));
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->memory_bytes, 256u << 20);
  EXPECT_EQ(gpu->memory_source, core::MemorySource::prefetchable_bar);
  EXPECT_NE(gpu->human_name.find("with 256 MiB BAR"), std::string::npos) << gpu->human_name;
  // Not a GPU: no memory, whatever its BARs.
  EXPECT_FALSE(inv.find(addr("0000:00:14.3"))->memory_bytes);
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

// Reading some devices (plan, bind, bringup) must give each of them exactly
// as the whole read does, together with every other member of its IOMMU
// group and nothing else: the planner's checks see the same data either way.
class SomeDevices : public ::testing::TestWithParam<std::string> {};

TEST_P(SomeDevices, EachDeviceComesWithItsGroupExactlyAsTheWholeReadGivesIt) {
  RealSysfs sys(sim_host(GetParam()) / "sys");
  const core::Inventory whole = read_sysfs_inventory(sys).value_or_throw();
  ASSERT_FALSE(whole.devices().empty());
  for (const auto& [address, device] : whole.devices()) {
    const PciAddress wanted[] = {address};
    const core::Inventory some = read_sysfs_inventory(sys, wanted).value_or_throw();
    std::set<PciAddress> expected{address};
    if (device.iommu_group) {
      for (const PciAddress& member : whole.group(*device.iommu_group)->members)
        expected.insert(member);
      ASSERT_NE(some.group(*device.iommu_group), nullptr) << address.to_string();
      EXPECT_EQ(some.group(*device.iommu_group)->members,
                whole.group(*device.iommu_group)->members)
          << address.to_string();
    }
    std::set<PciAddress> read;
    for (const auto& [a, d] : some.devices()) read.insert(a);
    ASSERT_EQ(read, expected) << address.to_string();
    for (const PciAddress& a : read)
      EXPECT_EQ(test::device_fields(*some.find(a)), test::device_fields(*whole.find(a)))
          << a.to_string();
    EXPECT_EQ(some.has_iommu_groups(), device.iommu_group.has_value());
  }
  EXPECT_EQ(has_iommu_groups(sys), whole.has_iommu_groups());
}

INSTANTIATE_TEST_SUITE_P(Hosts, SomeDevices,
                         ::testing::Values("workstation", "server", "laptop", "hostile", "noiommu",
                                           "btrfs", "zfs", "twins"));

TEST(SysfsSource, SomeDevicesLeavesOutAddressesTheHostLacksAndReadsEachOnce) {
  RealSysfs sys(sim_host("workstation") / "sys");
  // 2d:00.0 and 2d:00.1 share group 15; 0000:7f:00.0 does not exist.
  const PciAddress wanted[] = {addr("0000:2d:00.1"), addr("0000:7f:00.0"), addr("0000:2d:00.0"),
                               addr("0000:2d:00.1")};
  const core::Inventory some = read_sysfs_inventory(sys, wanted).value_or_throw();
  ASSERT_EQ(some.devices().size(), 2u);
  EXPECT_NE(some.find(addr("0000:2d:00.0")), nullptr);
  EXPECT_NE(some.find(addr("0000:2d:00.1")), nullptr);
  EXPECT_EQ(some.find(addr("0000:7f:00.0")), nullptr);
  const PciAddress none[] = {addr("0000:7f:00.0")};
  EXPECT_TRUE(read_sysfs_inventory(sys, none).value_or_throw().devices().empty());
}

TEST(SysfsSource, SomeDevicesNeverReadsTheOthers) {
  const auto root = sim_host("workstation");
  test::FaultySysfs sys(root / "sys");
  // A device outside the scope that cannot be read fails the whole read only.
  sys.fail_read("bus/pci/devices/0000:02:00.0/config", EIO);
  sys.fail_read("bus/pci/devices/0000:02:00.0/vendor", EIO);
  ASSERT_FALSE(read_sysfs_inventory(sys));
  const PciAddress wanted[] = {addr("0000:2d:00.1")};
  auto some = read_sysfs_inventory(sys, wanted);
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_EQ(some->devices().size(), 2u);
  // One inside it fails the read with the path and the reason.
  const PciAddress broken[] = {addr("0000:02:00.0")};
  auto failed = read_sysfs_inventory(sys, broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "reading " + (root / "sys").string() +
                                        "/bus/pci/devices/0000:02:00.0/vendor: Input/output error");
}

// A RealSysfs that records what a read asks of it (from both threads of a
// whole read).
class RecordingSysfs final : public Sysfs {
public:
  explicit RecordingSysfs(std::filesystem::path root) : m_real(std::move(root)) {}
  std::vector<std::string> listed;
  std::map<std::string, int> opened;  // attribute opens and link reads, by path
  int kept = 0;

  core::Result<std::string> read(std::string_view path, std::size_t max) const override {
    note(path);
    return m_real.read(path, max);
  }
  core::Result<std::optional<std::string>> read_if_present(std::string_view path,
                                                           std::size_t max) const override {
    note(path);
    return m_real.read_if_present(path, max);
  }
  core::Result<std::optional<std::string>> read_link_if_present(
      std::string_view path) const override {
    note(path);
    return m_real.read_link_if_present(path);
  }
  core::Result<std::unique_ptr<OpenAttribute>> open_attribute(
      std::string_view path) const override {
    note(path);
    return m_real.open_attribute(path);
  }
  bool keep_folder(std::string_view folder) const override {
    {
      const std::lock_guard lock(m_mutex);
      ++const_cast<RecordingSysfs*>(this)->kept;
    }
    return m_real.keep_folder(folder);
  }
  core::Result<std::vector<std::string>> list(std::string_view path) const override {
    {
      const std::lock_guard lock(m_mutex);
      const_cast<RecordingSysfs*>(this)->listed.emplace_back(path);
    }
    return m_real.list(path);
  }
  core::Result<std::string> read_link(std::string_view path) const override {
    note(path);
    return m_real.read_link(path);
  }
  bool exists(std::string_view path) const override { return m_real.exists(path); }
  core::Status write(std::string_view, std::string_view) override {
    ADD_FAILURE() << "a read wrote";
    return core::ok();
  }
  std::string display_path(std::string_view path) const override {
    return m_real.display_path(path);
  }

private:
  void note(std::string_view path) const {
    const std::lock_guard lock(m_mutex);
    ++const_cast<RecordingSysfs*>(this)->opened[std::string(path)];
  }
  RealSysfs m_real;
  mutable std::mutex m_mutex;
};

// Issue 21: one descriptor per device folder, no listing of device folders
// except where a field can only be found so (a virtio function's virtioN/
// children), and nothing opened or read twice.
class OnlyTheIoNeeded : public ::testing::TestWithParam<std::string> {};

TEST_P(OnlyTheIoNeeded, AWholeScanListsNoDeviceFolderAndOpensNothingTwice) {
  RecordingSysfs sys(sim_host(GetParam()) / "sys");
  const core::Inventory inventory = read_sysfs_inventory(sys).value_or_throw();
  EXPECT_EQ(sys.kept, static_cast<int>(inventory.devices().size()));
  for (const std::string& path : sys.listed) {
    const std::string_view prefix = "bus/pci/devices/";
    if (!path.starts_with(prefix) || path.find('/', prefix.size()) != std::string::npos) continue;
    const core::PciDevice* device = inventory.find(addr(path.substr(prefix.size()).c_str()));
    ASSERT_NE(device, nullptr) << path;
    EXPECT_EQ(device->vendor_id, 0x1af4) << "listed " << path;
  }
  for (const auto& [path, count] : sys.opened) EXPECT_EQ(count, 1) << path;
  // And the VFs found from their physfn links are those the PFs' links give.
  RealSysfs real(sim_host(GetParam()) / "sys");
  for (const auto& [address, device] : inventory.devices()) {
    if (device.sriov_total_vfs.value_or(0) == 0) continue;
    EXPECT_EQ(device.virtual_functions, read_sysfs_device(real, address)->virtual_functions)
        << address.to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(Hosts, OnlyTheIoNeeded,
                         ::testing::Values("workstation", "server", "hostile", "noiommu", "twins"));

// A whole read of a large host reads its two halves on two threads; the
// error must still be the one a read in address order meets first.
TEST(SysfsSource, AWholeReadOnTwoThreadsReportsTheFirstFailureInAddressOrder) {
  const auto root = sim_host("server");
  const core::Inventory whole = read_sysfs_inventory(RealSysfs(root / "sys")).value_or_throw();
  std::vector<PciAddress> all;
  for (const auto& [address, device] : whole.devices()) all.push_back(address);
  ASSERT_GT(all.size(), 1000u);
  const auto broken = [&](test::FaultySysfs& sys, const PciAddress& a) {
    const std::string dir = "bus/pci/devices/" + a.to_string();
    sys.fail_read(dir + "/config", EIO);
    sys.fail_read(dir + "/vendor", EIO);
    return "reading " + (root / "sys").string() + "/" + dir + "/vendor: Input/output error";
  };
  const PciAddress early = all[100], late = all[all.size() - 100];
  for (int round = 0; round < 5; ++round) {
    test::FaultySysfs both(root / "sys");
    const std::string first = broken(both, early);
    broken(both, late);
    auto failed = read_sysfs_inventory(both);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().message, first);

    test::FaultySysfs second_half(root / "sys");
    const std::string only = broken(second_half, late);
    failed = read_sysfs_inventory(second_half);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().message, only);
  }
}

TEST(SysfsSource, SomeDevicesRejectsAGroupEntryThatIsNotAnAddress) {
  test::TempDir dir;
  std::filesystem::copy(sim_host("laptop") / "sys", dir.path() / "sys",
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::copy_symlinks);
  RealSysfs sys(dir.path() / "sys");
  const core::Inventory whole = read_sysfs_inventory(sys).value_or_throw();
  const core::IommuGroup& group = whole.groups().begin()->second;
  const std::string devices =
      (dir.path() / "sys/kernel/iommu_groups" / std::to_string(group.number) / "devices").string();
  std::filesystem::create_directory(devices + "/$(reboot)");
  const PciAddress wanted[] = {group.members.front()};
  auto some = read_sysfs_inventory(sys, wanted);
  ASSERT_FALSE(some);
  EXPECT_EQ(some.error().code, core::ExitCode::host_error);
  EXPECT_EQ(some.error().message,
            "reading " + devices + ": entry '$(reboot)' is not a PCI address");
}

}  // namespace
}  // namespace pcipass::host
