#include "support/sim_host.hpp"

#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace pcipass::host {
namespace {

using core::PciAddress;
using Reasons = std::vector<std::string>;

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

core::Inventory usage_of(const std::filesystem::path& root) {
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  auto inv = read_sysfs_inventory(sys).value_or_throw();
  mark_host_usage(inv, sys, proc);
  return inv;
}

TEST(HostUsage, WorkstationRootDiskNicAndBootGpu) {
  const core::Inventory inv = usage_of(test::sim_host("workstation"));
  EXPECT_EQ(inv.find(addr("0000:01:00.0"))->host_uses,
            (Reasons{"backs / (ext4 on /dev/nvme0n1p2)", "backs /boot/efi (vfat on /dev/nvme0n1p1)",
                     "swap on /dev/nvme0n1p3"}));
  EXPECT_EQ(inv.find(addr("0000:05:00.0"))->host_uses, (Reasons{"default route via enp5s0"}));
  EXPECT_EQ(inv.find(addr("0000:2d:00.0"))->host_uses,
            (Reasons{"boot VGA device", "framebuffer console (fb0)"}));
  // Free devices stay free: the ZNS drive, USB, the GPU's audio function.
  EXPECT_TRUE(inv.find(addr("0000:02:00.0"))->host_uses.empty());
  EXPECT_TRUE(inv.find(addr("0000:06:00.0"))->host_uses.empty());
  EXPECT_TRUE(inv.find(addr("0000:2d:00.1"))->host_uses.empty());
}

TEST(HostUsage, FollowsDeviceMapperDownToTheNvmeController) {
  const core::Inventory inv = usage_of(test::sim_host("server"));
  std::size_t used = 0;
  for (const auto& [address, d] : inv.devices()) {
    if (!d.host_uses.empty()) ++used;
  }
  // The root NVMe (through LVM) and the management NIC; nothing else.
  EXPECT_EQ(used, 2u);
  bool found_lvm_root = false;
  for (const auto& [address, d] : inv.devices()) {
    for (const std::string& reason : d.host_uses) {
      if (reason.starts_with("backs / (") && reason.find("/dev/mapper/") != std::string::npos) {
        found_lvm_root = true;
        EXPECT_FALSE(d.nvme.empty()) << address.to_string() << " is not the NVMe controller";
      }
    }
  }
  EXPECT_TRUE(found_lvm_root);
}

TEST(HostUsage, MissingProcFilesMeanNothingMarked) {
  const auto root = test::sim_host("workstation");
  RealSysfs sys(root / "sys");
  RealSysfs proc("/nonexistent/proc");
  auto inv = read_sysfs_inventory(sys).value_or_throw();
  mark_host_usage(inv, sys, proc);
  // Only the boot VGA probe, which reads sysfs, still marks the GPU.
  for (const auto& [address, d] : inv.devices()) {
    if (address == addr("0000:2d:00.0")) continue;
    EXPECT_TRUE(d.host_uses.empty()) << address.to_string();
  }
}

TEST(HostUsage, ThisMachineMarksItsRootDiskAndNic) {
  // Read-only check of the machine the tests run on: whatever controller
  // holds / must be marked, and so must the NIC with the default route.
  RealSysfs sys("/sys");
  RealSysfs proc("/proc");
  auto inv = read_sysfs_inventory(sys);
  if (!inv) GTEST_SKIP() << "cannot read /sys: " << inv.error().message;
  mark_host_usage(*inv, sys, proc);
  std::ifstream route("/proc/net/route");
  std::string line;
  bool has_default = false;
  while (std::getline(route, line)) {
    if (line.find("\t00000000\t") != std::string::npos) has_default = true;
  }
  bool root_marked = false;
  bool route_marked = false;
  for (const auto& [address, d] : inv->devices()) {
    for (const std::string& reason : d.host_uses) {
      if (reason.starts_with("backs / (")) root_marked = true;
      if (reason.starts_with("default route via ")) route_marked = true;
    }
  }
  std::ifstream mounts("/proc/self/mountinfo");
  bool root_on_block = false;
  while (std::getline(mounts, line)) {
    if (line.find(" / / ") != std::string::npos && line.find(" - ") != std::string::npos &&
        line.find(" /dev/") != std::string::npos) {
      root_on_block = true;
    }
  }
  if (root_on_block) {
    EXPECT_TRUE(root_marked) << "the controller behind / is not marked";
  }
  if (has_default) {
    EXPECT_TRUE(route_marked) << "the NIC with the default route is not marked";
  }
  if (!root_on_block && !has_default) GTEST_SKIP() << "no block-backed / and no default route here";
}

}  // namespace
}  // namespace pcipass::host

namespace pcipass::host {
namespace {

// A host whose / is an ext4 on an md RAID1 of two NVMe partitions and whose
// swap is a file on /. (LVM is covered by the server host.)
constexpr const char* k_stacked_host = R"(name: stacked
devices:
  - {address: "0000:00:00.0", vendor: 0x8086, device: 0x3e0f, class: 0x060000, iommu_group: 0}
  - address: "0000:01:00.0"
    vendor: 0x144d
    device: 0xa80a
    class: 0x010802
    driver: nvme
    iommu_group: 1
    nvme:
      - controller: nvme0
        model: A
        firmware: "1"
        namespaces: [{name: nvme0n1, size_sectors: 100000, partitions: [{name: nvme0n1p1, start: 2048, size_sectors: 90000}]}]
  - address: "0000:02:00.0"
    vendor: 0x144d
    device: 0xa80a
    class: 0x010802
    driver: nvme
    iommu_group: 2
    nvme:
      - controller: nvme1
        model: B
        firmware: "1"
        namespaces: [{name: nvme1n1, size_sectors: 100000, partitions: [{name: nvme1n1p1, start: 2048, size_sectors: 90000}]}]
  - address: "0000:03:00.0"
    vendor: 0x144d
    device: 0xa80a
    class: 0x010802
    driver: nvme
    iommu_group: 3
    nvme:
      - controller: nvme2
        model: C
        firmware: "1"
        namespaces: [{name: nvme2n1, size_sectors: 1000}]
md:
  - {name: md0, slaves: [nvme0n1p1, nvme1n1p1]}
mounts:
  - {source: /dev/md0, target: /, fstype: ext4}
swaps:
  - {source: /swapfile, size_kib: 1048576}
)";

TEST(HostUsage, FollowsMdToEveryMemberAndSwapFilesToTheirFilesystem) {
  test::TempDir dir;
  {
    std::FILE* f = std::fopen((dir.path() / "stacked.yaml").c_str(), "w");
    std::fputs(k_stacked_host, f);
    std::fclose(f);
  }
  const auto gen = test::run_command(
      {PCIPASS_SIMHOST_EXE, (dir.path() / "stacked.yaml").string(), (dir.path() / "host").string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const core::Inventory inv = usage_of(dir.path() / "host");
  const Reasons expected{"backs / (ext4 on /dev/md0)", "swap on /swapfile"};
  EXPECT_EQ(inv.find(addr("0000:01:00.0"))->host_uses, expected);
  EXPECT_EQ(inv.find(addr("0000:02:00.0"))->host_uses, expected);
  EXPECT_TRUE(inv.find(addr("0000:03:00.0"))->host_uses.empty());
}

}  // namespace
}  // namespace pcipass::host
