// The three inventory sources must describe the same host alike: sysfs,
// libvirt's node devices and lspci -Dvmmm text. Checked on every simulated
// host (real lspci reads the tree; libvirt's test driver reads the host file
// the generator writes) and, read-only, on the machine the tests run on.

#include "support/inventory_compare.hpp"
#include "support/sim_host.hpp"

#include <pcipass/core/lspci_parser.hpp>
#include <pcipass/host/complete_inventory.hpp>
#include <pcipass/host/libpci_names.hpp>
#include <pcipass/host/libvirt_source.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;

// Fields every source provides. lspci and libvirt lack some (see docs/json.md).
const std::set<std::string> k_common = {"vendor_id",  "device_id",   "class",     "vendor_name",
                                        "device_name", "class_name",  "iommu_group", "kind",
                                        "human_name", "host_uses"};

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct Sources {
  core::Inventory sysfs;
  core::Inventory lspci;
  std::optional<core::Inventory> libvirt;
};

Sources read_all(const fs::path& sys_root, const fs::path& proc_root, const std::string& pci_ids,
                 const std::vector<std::string>& lspci_args, const std::string& libvirt_uri) {
  RealSysfs sys(sys_root);
  RealSysfs proc(proc_root);
  LibpciNames names(pci_ids);
  const LocalHost local{sys, proc};
  Sources s;
  s.sysfs = read_sysfs_inventory(sys).value_or_throw();
  complete_inventory(s.sysfs, names, &local, HaveDetails::yes);

  const auto lspci = test::run_command(lspci_args);
  EXPECT_EQ(lspci.exit_code, 0) << lspci.err;
  s.lspci = core::parse_lspci_vmm(lspci.out).value_or_throw();
  complete_inventory(s.lspci, names, &local, HaveDetails::no);

  auto conn = LibvirtConnection::open(libvirt_uri, LibvirtConnection::Access::read_only);
  if (conn) {
    s.libvirt = read_libvirt_inventory(*conn).value_or_throw();
    complete_inventory(*s.libvirt, names, &local, HaveDetails::no);
  }
  return s;
}

class SimulatedHost : public ::testing::TestWithParam<std::string> {};

TEST_P(SimulatedHost, SysfsLspciAndLibvirtAgree) {
  const fs::path root = test::sim_host(GetParam());
  const std::string pci_ids = fs::exists(root / "pci.ids") ? (root / "pci.ids").string() : "";
  std::vector<std::string> lspci{"lspci", "-A", "linux-sysfs", "-O",
                                 "sysfs.path=" + (root / "sys/bus/pci").string(), "-Dvmmmnnk"};
  if (!pci_ids.empty()) lspci.insert(lspci.end(), {"-i", pci_ids});
  const Sources s = read_all(root / "sys", root / "proc", pci_ids, lspci,
                             "test://" + (root / "libvirt-test.xml").string());

  auto lspci_fields = k_common;
  lspci_fields.insert({"revision", "driver", "subsystem_vendor_id", "subsystem_device_id", "numa_node"});
  std::vector<std::string> lspci_differences;
  for (const std::string& d : test::inventory_differences(s.sysfs, s.lspci, lspci_fields)) {
    // libpci cuts names at 127 bytes and appends "...", which swallows the
    // " [hhhh]" id suffix: lspci text cannot carry ids of such devices.
    const auto address = core::PciAddress::parse(d.substr(0, 12));
    const core::PciDevice* dev = address ? s.sysfs.find(*address) : nullptr;
    const bool long_name = dev != nullptr && (dev->device_name.size() > 120 ||
                                              dev->vendor_name.size() > 120 ||
                                              dev->subsystem_name.size() > 120);
    if (!long_name) lspci_differences.push_back(d);
  }
  EXPECT_EQ(join(lspci_differences), "");

  ASSERT_TRUE(s.libvirt) << "libvirt's test driver cannot open the generated host file";
  // libvirt's test driver drops <driver> when it parses its host file, so
  // drivers are compared on the real daemon only.
  auto libvirt_fields = k_common;
  libvirt_fields.insert({"numa_node", "physical_function", "virtual_functions", "sriov_total_vfs"});
  EXPECT_EQ(join(test::inventory_differences(s.sysfs, *s.libvirt, libvirt_fields)), "");
}

INSTANTIATE_TEST_SUITE_P(Hosts, SimulatedHost,
                         ::testing::Values("workstation", "server", "laptop", "hostile", "noiommu",
                                           "btrfs", "zfs", "twins"));

TEST(ThisMachine, SysfsLspciAndLibvirtAgreeReadOnly) {
  // Read-only: /sys, lspci and node-device queries to the real daemon.
  const Sources s = read_all("/sys", "/proc", "", {"lspci", "-Dvmmmnnk"}, "qemu:///system");
  if (s.sysfs.devices().empty()) GTEST_SKIP() << "this machine shows no PCI devices";
  auto lspci_fields = k_common;
  lspci_fields.insert({"revision", "driver", "subsystem_vendor_id", "subsystem_device_id", "numa_node"});
  EXPECT_EQ(join(test::inventory_differences(s.sysfs, s.lspci, lspci_fields)), "");
  if (!s.libvirt) GTEST_SKIP() << "no libvirtd answers on qemu:///system (scripts/test.sh starts one)";
  auto libvirt_fields = k_common;
  libvirt_fields.insert({"driver", "numa_node", "physical_function", "virtual_functions"});
  EXPECT_EQ(join(test::inventory_differences(s.sysfs, *s.libvirt, libvirt_fields)), "");
}

}  // namespace
}  // namespace pcipass::host
