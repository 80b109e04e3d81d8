// `pcipass doctor` end to end on copies of simulated hosts, with the files a
// real host would have (cpuinfo, limits, passwd, ...) written into the copy.

#include "support/sim_host.hpp"
#include "support/simulated_kernel.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

struct DoctorHost {
  explicit DoctorHost(const std::string& name) {
    for (const char* part : {"sys", "proc", "dev", "run"}) {
      if (fs::exists(sim_host(name) / part)) {
        fs::copy(sim_host(name) / part, dir.path() / part,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      }
    }
    fs::create_directories(dir.path() / "etc");
  }
  void write(const std::string& relative, const std::string& text) const {
    fs::create_directories((dir.path() / relative).parent_path());
    std::ofstream(dir.path() / relative) << text;
  }
  // A host that passes every check: Intel IOMMU with interrupt remapping,
  // the qemu user, and a memlock grant.
  void make_ready() const {
    write("sys/class/iommu/dmar0/intel-iommu/ecap", "f0050aff7ef\n");
    write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n");
    write("proc/self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max locked memory         8388608              8388608              bytes     \n");
    write("etc/passwd",
          "root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:108::/:/bin/false\n");
    write("etc/group", "root:x:0:\nkvm:x:104:\nlibvirt-qemu:x:108:\n");
    write("etc/security/limits.d/90-vfio.conf", "# vfio guests\n@kvm hard memlock unlimited\n");
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(),
                {"--sysfs-root", (dir.path() / "sys").string(), "-c", "test:///default"});
    return rest;
  }
  std::string root() const { return dir.path().string(); }
  TempDir dir;
};

TEST(CliDoctor, NoIommuIsTheFirstFailInOneLine) {
  DoctorHost host("noiommu");
  host.write("proc/cpuinfo", "vendor_id\t: GenuineIntel\n");
  const auto r = run_pcipass(host.args({"doctor"}));
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string h = host.root();
  EXPECT_EQ(
      r.out,
      "FAIL  iommu: no IOMMU: " + h + "/sys/kernel/iommu_groups is empty, " + h +
          "/sys/class/iommu lists no units and the kernel command line has neither intel_iommu=on "
          "nor amd_iommu=on; no device can be passed through\n"
          "      fix: enable VT-d in the firmware setup and add intel_iommu=on iommu=pt to "
          "GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot\n"
          "WARN  interrupt-remapping: unknown: no IOMMU units in " +
          h +
          "/sys/class/iommu\n"
          "      fix: read the kernel log (dmesg | grep -i remapping); without interrupt remapping "
          "vfio refuses devices unless vfio_iommu_type1 allow_unsafe_interrupts=1; check the "
          "firmware's IOMMU and x2APIC settings\n"
          "WARN  vfio-modules: not loaded: vfio, vfio_pci, vfio_iommu_type1 (" +
          h +
          "/sys/module)\n"
          "      fix: modprobe vfio-pci (pcipass bind loads it; to load it at boot add vfio-pci to "
          "/etc/modules-load.d/vfio.conf)\n"
          "WARN  vfio-device: " +
          h +
          "/dev/vfio/vfio is missing: the vfio module is not loaded\n"
          "      fix: modprobe vfio-pci (pcipass bind loads it)\n"
          "OK    libvirt: test:///default (neither qemu:///system nor qemu:///session)\n"
          "WARN  qemu-user: no libvirt-qemu or qemu user in " +
          h +
          "/etc/passwd\n"
          "      fix: install libvirt-daemon-system (Debian) or libvirt-daemon (Fedora), which "
          "create it\n"
          "WARN  memlock: unknown for this process (" +
          h +
          "/proc/self/limits has no Max locked "
          "memory line); no memlock lines in " +
          h +
          "/etc/security/limits.d or limits.conf\n"
          "      fix: qemu:///system raises the limit itself; for qemu:///session guests add '@kvm "
          "hard memlock unlimited' and '@kvm soft memlock unlimited' (or the guest's memory plus "
          "a margin, in KiB) to /etc/security/limits.d/90-vfio-memlock.conf and log in again\n"
          "OK    host-disks: / is on 0000:00:02.0 (host-in-use)\n");
}

TEST(CliDoctor, ReadyWorkstationIsAllOkAndExitsZero) {
  DoctorHost host("workstation");
  host.make_ready();
  host.write("sys/bus/pci/devices/0000:2d:00.0/reset_method", "flr bus\n");
  const std::string before = snapshot_tree(host.dir.path());
  const auto r = run_pcipass(host.args({"doctor", "2d:00.0"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string h = host.root();
  EXPECT_EQ(
      r.out,
      "OK    iommu: 16 IOMMU groups, units dmar0; the kernel command line has amd_iommu=on\n"
      "OK    interrupt-remapping: supported by every IOMMU unit (intel-iommu ecap bit 3)\n"
      "OK    vfio-modules: vfio, vfio_pci and vfio_iommu_type1 are loaded\n"
      "OK    vfio-device: " +
          h +
          "/dev/vfio/vfio exists\n"
          "OK    libvirt: test:///default (neither qemu:///system nor qemu:///session)\n"
          "OK    qemu-user: user libvirt-qemu, groups libvirt-qemu, kvm\n"
          "OK    memlock: this process may lock 8 MiB (hard 8 MiB); granted: @kvm hard "
          "unlimited (" +
          h +
          "/etc/security/limits.d/90-vfio.conf)\n"
          "OK    host-disks: / is on 0000:01:00.0 (host-in-use)\n"
          "OK    reset 0000:2d:00.0: reset method flr bus; no FLR in its PCI Express capability\n");
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);  // read-only
}

TEST(CliDoctor, ClearedEcapFailsAndResetlessDeviceWarns) {
  DoctorHost host("workstation");
  host.make_ready();
  host.write("sys/class/iommu/dmar0/intel-iommu/ecap", "f0050aff7e7\n");
  const auto r = run_pcipass(host.args({"--json", "doctor", "00:14.3", "0000:2c:00.0"}));
  EXPECT_EQ(r.exit_code, 8) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], 1);
  EXPECT_EQ(doc["result"], "FAIL");
  ASSERT_EQ(doc["checks"].size(), 10u);
  EXPECT_EQ(doc["checks"][1],
            nlohmann::json({{"verdict", "FAIL"},
                            {"name", "interrupt-remapping"},
                            {"detail", "not supported by dmar0 (intel-iommu ecap bit 3 is clear)"},
                            {"fix",
                             "without interrupt remapping vfio refuses devices unless "
                             "vfio_iommu_type1 allow_unsafe_interrupts=1; check the firmware's "
                             "IOMMU and x2APIC settings"}}));
  EXPECT_EQ(doc["checks"][7],
            nlohmann::json({{"verdict", "OK"},
                            {"name", "host-disks"},
                            {"detail", "/ is on 0000:01:00.0 (host-in-use)"},
                            {"fix", ""}}));
  EXPECT_EQ(doc["checks"][8],
            nlohmann::json({{"verdict", "WARN"},
                            {"name", "reset 0000:00:14.3"},
                            {"detail",
                             "cannot be reset: no reset method in sysfs; no PCI "
                             "Express capability"},
                            {"fix",
                             "the device may keep state between guests or need a host reboot "
                             "after one; pass the whole card (all functions) so a bus reset is "
                             "possible, or avoid reusing it without a reboot"}}));
  EXPECT_EQ(doc["checks"][9]["verdict"], "FAIL");
  EXPECT_EQ(doc["checks"][9]["detail"],
            "no such device: " + host.root() + "/sys/bus/pci/devices/0000:2c:00.0 is missing");

  host.write("sys/class/iommu/dmar0/intel-iommu/ecap", "f0050aff7ef\n");
  const auto warned = run_pcipass(host.args({"doctor", "00:14.3"}));
  EXPECT_EQ(warned.exit_code, 7) << warned.out;
}

TEST(CliDoctor, AnUntracedRootWarnsThatNoStorageControllerIsFree) {
  DoctorHost host("zfs");
  host.make_ready();
  auto r = run_pcipass(host.args({"--json", "doctor"}));
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["checks"][7], nlohmann::json({{"verdict", "OK"},
                                              {"name", "host-disks"},
                                              {"detail", "/ is on 0000:01:00.0 (host-in-use)"},
                                              {"fix", ""}}));
  r = run_pcipass(host.args({"--run-root", host.root() + "/nowhere", "--json", "doctor"}));
  EXPECT_EQ(r.exit_code, 7) << r.out;
  doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["checks"][7]["verdict"], "WARN");
  EXPECT_EQ(doc["checks"][7]["detail"],
            "/ (zfs on rpool/ROOT/pve-1) is traced to no device: no storage controller is called "
            "free (0000:01:00.0, 0000:02:00.0)");
}

TEST(CliDoctor, UnreachableLibvirtFailsWithTheFix) {
  DoctorHost host("workstation");
  host.make_ready();
  const auto r = run_pcipass(
      {"--sysfs-root", host.root() + "/sys", "-c", "nosuchdriver:///x", "--json", "doctor"});
  EXPECT_EQ(r.exit_code, 8) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["checks"][4]["verdict"], "FAIL");
  EXPECT_TRUE(doc["checks"][4]["detail"].get<std::string>().starts_with(
      "cannot connect to nosuchdriver:///x: "))
      << doc["checks"][4]["detail"];
}

}  // namespace
}  // namespace pcipass::test
