#include "support/sim_host.hpp"

#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <pcipass/core/text.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <set>

namespace pcipass::host {
namespace {

using core::PciAddress;
using Reasons = std::vector<std::string>;

PciAddress addr(const char* text) { return *PciAddress::parse(text); }

core::Inventory usage_of(const std::filesystem::path& root) {
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  auto inv = read_sysfs_inventory(sys).value_or_throw();
  mark_host_usage(inv, LocalHost{sys, proc});
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
  mark_host_usage(inv, LocalHost{sys, proc});
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
  mark_host_usage(*inv, LocalHost{sys, proc});
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

namespace pcipass::host {
namespace {

using core::PciAddress;
using Reasons = std::vector<std::string>;

PciAddress at(const char* text) { return *PciAddress::parse(text); }

core::Inventory usage_with(const std::filesystem::path&, const LocalHost& host) {
  auto inv = read_sysfs_inventory(host.sys).value_or_throw();
  mark_host_usage(inv, host);
  return inv;
}

TEST(HostUsage, EveryMemberOfABtrfsRootIsTheHosts) {
  // mountinfo names nvme0n1p2 with btrfs' 0:N number; the second member,
  // the whole of nvme1n1, is only in sys/fs/btrfs/FSID/devices/.
  const auto root = test::sim_host("btrfs");
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  const core::Inventory inv = usage_with(root, LocalHost{sys, proc});
  const Reasons both{"backs / (btrfs on /dev/nvme0n1p2)", "backs /home (btrfs on /dev/nvme0n1p2)"};
  Reasons first = both;
  first.push_back("backs /boot/efi (vfat on /dev/nvme0n1p1)");
  EXPECT_EQ(inv.find(at("0000:01:00.0"))->host_uses, first);
  EXPECT_EQ(inv.find(at("0000:02:00.0"))->host_uses, both);
  EXPECT_TRUE(inv.find(at("0000:03:00.0"))->host_uses.empty());
  EXPECT_EQ(inv.find(at("0000:03:00.0"))->host_usage_unknown, "");
}

TEST(HostUsage, AZfsRootIsTracedToItsPoolMembersThroughUdev) {
  const auto root = test::sim_host("zfs");
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  RealSysfs run(root / "run");
  const core::Inventory inv = usage_with(root, LocalHost{sys, proc, nullptr, &run});
  EXPECT_EQ(inv.find(at("0000:01:00.0"))->host_uses,
            (Reasons{"backs / (zfs on rpool/ROOT/pve-1)", "backs /rpool (zfs on rpool)",
                     "backs /rpool/data (zfs on rpool/data)"}));
  EXPECT_TRUE(inv.find(at("0000:02:00.0"))->host_uses.empty());
  EXPECT_EQ(inv.find(at("0000:02:00.0"))->host_usage_unknown, "");
}

TEST(HostUsage, AnUntracedRootLeavesNoStorageControllerFree) {
  // Without udev's database nothing names the pool's disks: neither NVMe
  // controller may be called free, while the NIC's usage is still known.
  const auto root = test::sim_host("zfs");
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  const core::Inventory inv = usage_with(root, LocalHost{sys, proc});
  for (const char* nvme : {"0000:01:00.0", "0000:02:00.0"}) {
    const core::PciDevice& d = *inv.find(at(nvme));
    EXPECT_TRUE(d.host_uses.empty()) << nvme;
    EXPECT_EQ(d.host_usage_unknown, "/ (zfs on rpool/ROOT/pve-1) is traced to no device") << nvme;
    EXPECT_TRUE(d.host_may_need());
    EXPECT_EQ(d.host_claim(), "host usage unknown: / (zfs on rpool/ROOT/pve-1) is traced to no device");
  }
  EXPECT_EQ(inv.find(at("0000:03:00.0"))->host_usage_unknown, "");
  EXPECT_EQ(inv.find(at("0000:03:00.0"))->host_uses, (Reasons{"default route via enp3s0"}));

  // No mountinfo at all: the same, with that reason.
  RealSysfs no_proc("/nonexistent/proc");
  const core::Inventory blind = usage_with(root, LocalHost{sys, no_proc});
  EXPECT_EQ(blind.find(at("0000:02:00.0"))->host_usage_unknown,
            "no /nonexistent/proc/self/mountinfo to trace / with");
}

TEST(HostUsage, ARootInMemoryOrOnTheNetworkNeedsNoDisk) {
  const auto root = test::sim_host("workstation");
  RealSysfs sys(root / "sys");
  for (const char* line : {"1 0 0:2 / / rw - rootfs rootfs rw\n",
                           "1 0 0:31 / / rw - nfs4 server:/export/root rw\n"}) {
    test::TempDir dir;
    test::put_file(dir.path() / "self/mountinfo", line);
    RealSysfs proc(dir.path());
    const core::Inventory inv = usage_with(root, LocalHost{sys, proc});
    EXPECT_EQ(inv.find(at("0000:02:00.0"))->host_usage_unknown, "") << line;
    EXPECT_EQ(inv.find(at("0000:01:00.0"))->host_usage_unknown, "") << line;
  }
  // A / mountinfo does not list: unknown.
  test::TempDir dir;
  test::put_file(dir.path() / "self/mountinfo", "1 0 0:21 / /run rw - tmpfs tmpfs rw\n");
  RealSysfs proc(dir.path());
  const core::Inventory inv = usage_with(root, LocalHost{sys, proc});
  EXPECT_EQ(inv.find(at("0000:02:00.0"))->host_usage_unknown,
            "no mount of / in " + (dir.path() / "self/mountinfo").string());
}

// A /dev tree in which the named block device nodes are held open exclusively.
class HeldNodes final : public Sysfs {
 public:
  explicit HeldNodes(std::set<std::string> held) : m_held(std::move(held)) {}
  core::Result<std::string> read(std::string_view, std::size_t) const override { return none(); }
  core::Result<std::vector<std::string>> list(std::string_view) const override { return none(); }
  core::Result<std::string> read_link(std::string_view) const override { return none(); }
  bool exists(std::string_view) const override { return false; }
  core::Status write(std::string_view, std::string_view) override { return none(); }
  std::string display_path(std::string_view path) const override { return "/dev/" + std::string(path); }
  bool held_exclusively(std::string_view path) const override {
    m_asked.insert(std::string(path));
    return m_held.contains(std::string(path));
  }
  mutable std::set<std::string> m_asked;

 private:
  static core::Unexpected none() { return core::fail("no such file", core::ExitCode::host_error); }
  std::set<std::string> m_held;
};

TEST(HostUsage, ABlockDeviceHeldOpenExclusivelyIsTheHostsEvenWithNoMountNamingIt) {
  // nvme1n1 is free by every list of mounts and swaps; something (an LVM
  // volume group, a ZFS pool not mounted, a VM) holds it with O_EXCL.
  const auto root = test::sim_host("workstation");
  RealSysfs sys(root / "sys");
  RealSysfs proc(root / "proc");
  const std::string number = std::string(core::trim(*sys.read("class/block/nvme1n1/dev")));
  HeldNodes dev({"block/" + number, "block/" + std::string(core::trim(
                                                   *sys.read("class/block/nvme0n1p2/dev")))});
  const core::Inventory inv = usage_with(root, LocalHost{sys, proc, &dev});
  EXPECT_EQ(inv.find(at("0000:02:00.0"))->host_uses,
            (Reasons{"/dev/nvme1n1 is held open exclusively (mounted, swap, RAID/LVM member or "
                     "ZFS vdev)"}));
  // The root disk keeps the reasons that say more; it is not even asked about.
  EXPECT_EQ(inv.find(at("0000:01:00.0"))->host_uses.size(), 3u);
  EXPECT_FALSE(dev.m_asked.contains("block/" + std::string(core::trim(
                                                   *sys.read("class/block/nvme0n1p2/dev")))));
  // With nothing held, the drive is free again.
  HeldNodes none({});
  EXPECT_TRUE(usage_with(root, LocalHost{sys, proc, &none}).find(at("0000:02:00.0"))->host_uses.empty());
}

TEST(RealSysfsDev, AnExclusiveOpenOfABlockDeviceIsSeen) {
  // A loop device stands for a disk: O_EXCL held by this test, then released.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to set up a loop device";
  test::TempDir dir;
  const auto image = dir.path() / "disk.img";
  test::put_file(image, std::string(1 << 20, '\0'));
  const auto setup = test::run_command({"losetup", "--find", "--show", image.string()});
  if (setup.exit_code != 0) GTEST_SKIP() << "no loop device here: " << setup.err;
  const std::string node = std::string(core::trim(setup.out));
  RealSysfs dev("/dev");
  const std::string name = node.substr(5);
  EXPECT_FALSE(dev.held_exclusively(name));
  const int fd = ::open(node.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_TRUE(dev.held_exclusively(name));
  if (fd >= 0) ::close(fd);
  EXPECT_FALSE(dev.held_exclusively(name));
  // Not a block device: never "held".
  EXPECT_FALSE(RealSysfs(dir.path()).held_exclusively("disk.img"));
  test::run_command({"losetup", "--detach", node});
}

}  // namespace
}  // namespace pcipass::host

namespace pcipass::host {
namespace {

constexpr const char* k_usb_disk_host = R"(
name: usb-root
iommu: true
devices:
  - {address: "0000:00:00.0", vendor: 0x8086, device: 0x4660, class: 0x060000, iommu_group: 0}
  - address: "0000:00:14.0"
    vendor: 0x8086
    device: 0x7ae0
    class: 0x0c0330
    driver: xhci_hcd
    iommu_group: 1
    block:
      - {name: sda, size_sectors: 1000, subdir: "usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0"}
  - address: "0000:01:00.0"
    vendor: 0x144d
    device: 0xa80a
    class: 0x010802
    driver: vfio-pci
    iommu_group: 2
  - address: "0000:02:00.0"
    vendor: 0x144d
    device: 0xa80a
    class: 0x010802
    driver: nvme
    iommu_group: 3
    nvme:
      - controller: nvme0
        model: M
        firmware: "1"
        namespaces: [{name: nvme0n1, size_sectors: 1000}]
  - {address: "0000:03:00.0", vendor: 0x8086, device: 0x125c, class: 0x020000, driver: igc,
     iommu_group: 4}
mounts:
  - {source: overlay, target: /, fstype: overlay}
)";

TEST(HostUsage, AnUntracedRootMarksWhatCouldHoldItAndNothingElse) {
  // / on an overlay pcipass cannot follow. The NVMe on a driver and the USB
  // controller with a disk beneath it could hold it; the NVMe already on
  // vfio-pci and the NIC could not.
  test::TempDir dir;
  test::put_file(dir.path() / "host.yaml", k_usb_disk_host);
  const auto gen = test::run_command(
      {PCIPASS_SIMHOST_EXE, (dir.path() / "host.yaml").string(), (dir.path() / "host").string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RealSysfs sys(dir.path() / "host/sys");
  RealSysfs proc(dir.path() / "host/proc");
  auto inv = read_sysfs_inventory(sys).value_or_throw();
  mark_host_usage(inv, LocalHost{sys, proc});
  const std::string why = "/ (overlay on overlay) is traced to no device";
  EXPECT_EQ(inv.find(*core::PciAddress::parse("0000:02:00.0"))->host_usage_unknown, why);
  EXPECT_EQ(inv.find(*core::PciAddress::parse("0000:00:14.0"))->host_usage_unknown, why);
  EXPECT_EQ(inv.find(*core::PciAddress::parse("0000:01:00.0"))->host_usage_unknown, "");
  EXPECT_EQ(inv.find(*core::PciAddress::parse("0000:03:00.0"))->host_usage_unknown, "");

  // / on a block device that sits on no PCI controller (platform eMMC): traced.
  test::TempDir other;
  test::put_file(other.path() / "self/mountinfo",
                 "1 0 179:2 / / rw - ext4 /dev/mmcblk0p2 rw\n");
  // Only the link is needed: sys/dev/block/179:2 -> a platform device.
  const auto platform = dir.path() / "host/sys/devices/platform/mmc0/mmcblk0/mmcblk0p2";
  std::filesystem::create_directories(platform);
  std::filesystem::create_symlink("../../devices/platform/mmc0/mmcblk0/mmcblk0p2",
                                  dir.path() / "host/sys/dev/block/179:2");
  RealSysfs emmc_proc(other.path());
  auto traced = read_sysfs_inventory(sys).value_or_throw();
  mark_host_usage(traced, LocalHost{sys, emmc_proc});
  EXPECT_EQ(traced.find(*core::PciAddress::parse("0000:02:00.0"))->host_usage_unknown, "");
}

}  // namespace
}  // namespace pcipass::host
