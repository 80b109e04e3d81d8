// The simulated kernel itself: bind, unbind, driver_override and
// drivers_probe behave as on Linux, so tests built on it mean something.

#include "support/simulated_kernel.hpp"

#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_zns = "0000:02:00.0";  // workstation: nvme, IOMMU group 9

TEST(SimulatedKernel, CopiesTheHostAndLeavesTheSharedTreeAlone) {
  const std::string before = snapshot_tree(sim_host("workstation") / "sys");
  {
    SimulatedKernel kernel("workstation");
    EXPECT_NE(kernel.root(), sim_host("workstation"));
    ASSERT_TRUE(kernel.write("bus/pci/drivers/nvme/unbind", k_zns));
    EXPECT_EQ(kernel.driver_of(k_zns), "");
  }
  EXPECT_EQ(snapshot_tree(sim_host("workstation") / "sys"), before);
}

TEST(SimulatedKernel, OverrideUnbindProbeMovesTheDriverLinkAndCreatesTheVfioNode) {
  SimulatedKernel kernel("workstation");
  EXPECT_EQ(kernel.driver_of(k_zns), "nvme");
  EXPECT_FALSE(fs::exists(kernel.dev_root() / "vfio/9"));

  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci"));
  EXPECT_EQ(kernel.override_of(k_zns), "vfio-pci");
  EXPECT_EQ(kernel.driver_of(k_zns), "nvme");  // storing an override binds nothing

  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver/unbind", k_zns));
  EXPECT_EQ(kernel.driver_of(k_zns), "");
  EXPECT_FALSE(fs::exists(kernel.sys_root() / "bus/pci/drivers/nvme" / k_zns));

  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", std::string(k_zns) + "\n"));
  EXPECT_EQ(kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_EQ(fs::read_symlink(kernel.sys_root() / "bus/pci/devices" / k_zns / "driver"),
            "../../../../bus/pci/drivers/vfio-pci");
  EXPECT_TRUE(fs::exists(kernel.sys_root() / "bus/pci/drivers/vfio-pci" / k_zns / "vendor"));
  EXPECT_TRUE(fs::exists(kernel.dev_root() / "vfio/9"));
}

TEST(SimulatedKernel, ClearingTheOverrideAndProbingReturnsTheNativeDriver) {
  SimulatedKernel kernel("workstation");
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci\n"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers/nvme/unbind", k_zns));
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", k_zns));
  ASSERT_TRUE(kernel.write("bus/pci/drivers/vfio-pci/unbind", k_zns));
  EXPECT_FALSE(fs::exists(kernel.dev_root() / "vfio/9"));
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "\n"));
  EXPECT_EQ(*kernel.read("bus/pci/devices/0000:02:00.0/driver_override"), "(null)\n");
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", k_zns));
  EXPECT_EQ(kernel.driver_of(k_zns), "nvme");
}

TEST(SimulatedKernel, KernelErrorsAreTheOnesLinuxGives) {
  SimulatedKernel kernel("workstation");
  const std::string unbind = kernel.display_path("bus/pci/drivers/igc/unbind");
  auto wrong = kernel.write("bus/pci/drivers/igc/unbind", k_zns);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message, "writing " + unbind + ": No such device");

  auto busy = kernel.write("bus/pci/drivers/nvme/bind", k_zns);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().message, "writing " + kernel.display_path("bus/pci/drivers/nvme/bind") +
                                      ": Device or resource busy");

  // vfio-pci takes no bridges: the probe leaves the bridge without a driver.
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:00:01.2/driver_override", "vfio-pci"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers/pcieport/unbind", "0000:00:01.2"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", "0000:00:01.2"));
  EXPECT_EQ(kernel.driver_of("0000:00:01.2"), "");
}

TEST(SimulatedKernel, WithoutTheModuleThereIsNoVfioDriverUntilModprobe) {
  SimulatedKernel kernel("laptop");           // vfio not loaded
  const std::string reader = "0000:02:00.0";  // rtsx_pci card reader
  EXPECT_FALSE(kernel.exists("bus/pci/drivers/vfio-pci"));
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers/rtsx_pci/unbind", reader));
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", reader));
  EXPECT_EQ(kernel.driver_of(reader), "");  // the override names a driver nobody registered
  ASSERT_TRUE(kernel.load_module("vfio-pci"));
  EXPECT_TRUE(kernel.exists("module/vfio_pci/initstate"));
  EXPECT_EQ(kernel.driver_of(reader), "vfio-pci");  // registering the driver probed it
  EXPECT_TRUE(fs::exists(kernel.dev_root() / "vfio/0"));
  EXPECT_TRUE(fs::exists(kernel.dev_root() / "vfio/vfio"));
}

TEST(SimulatedKernel, InjectedFailuresAndCrashes) {
  SimulatedKernel kernel("workstation");
  kernel.fail_write("bus/pci/drivers_probe", ENOSPC);
  auto failed = kernel.write("bus/pci/drivers_probe", k_zns);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "writing " + kernel.display_path("bus/pci/drivers_probe") +
                                        ": No space left on device");

  CrashSwitch crash;
  kernel.set_crash_switch(&crash);
  crash.arm(1);
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "vfio-pci"));
  EXPECT_THROW((void)kernel.write("bus/pci/drivers/nvme/unbind", k_zns), SimulatedCrash);
  EXPECT_EQ(kernel.driver_of(k_zns), "nvme");  // the crashed write never happened
}

}  // namespace
}  // namespace pcipass::test

namespace pcipass::test {
namespace {

// sriov_numvfs as Linux's sriov_numvfs_store(): VFs go and come back whole,
// and the inventory pcipass reads sees exactly that.
TEST(SimulatedKernel, SriovNumvfsRemovesAndRecreatesTheVfs) {
  SimulatedKernel kernel("sriov");  // PF 0000:02:00.0 on i40e, VFs 02:02.0-3 on iavf, groups 7-10
  const std::string numvfs = "bus/pci/devices/0000:02:00.0/sriov_numvfs";
  const std::string boot = snapshot_tree(kernel.sys_root());
  const auto errno_of = [&](std::string_view bytes) {
    auto r = kernel.write(numvfs, bytes);
    return r ? std::string("ok") : r.error().message.substr(r.error().message.rfind(": ") + 2);
  };
  EXPECT_EQ(errno_of("9"), "Numerical result out of range");  // above sriov_totalvfs (8)
  EXPECT_EQ(errno_of("2"), "Device or resource busy");        // 4 enabled: 0 first
  EXPECT_EQ(errno_of("4"), "ok");                              // the same count: nothing to do

  // A VF on vfio-pci goes away with the others, and so does its group's node.
  ASSERT_TRUE(kernel.load_module("vfio_pci"));
  ASSERT_TRUE(kernel.write("bus/pci/devices/0000:02:02.1/driver_override", "vfio-pci"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers/iavf/unbind", "0000:02:02.1"));
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", "0000:02:02.1"));
  ASSERT_TRUE(fs::exists(kernel.dev_root() / "vfio/8"));

  EXPECT_EQ(errno_of("0\n"), "ok");
  EXPECT_EQ(*kernel.read(numvfs), "0\n");
  for (const char* vf : {"0000:02:02.0", "0000:02:02.1", "0000:02:02.2", "0000:02:02.3"}) {
    EXPECT_FALSE(kernel.exists(std::string("bus/pci/devices/") + vf)) << vf;
    EXPECT_FALSE(fs::exists(kernel.sys_root() / "bus/pci/drivers/iavf" / vf)) << vf;
  }
  EXPECT_FALSE(kernel.exists("bus/pci/devices/0000:02:00.0/virtfn0"));
  EXPECT_FALSE(kernel.exists("kernel/iommu_groups/7"));  // each VF had a group of its own
  EXPECT_FALSE(fs::exists(kernel.dev_root() / "vfio/8"));
  EXPECT_EQ(kernel.driver_of("0000:02:00.0"), "i40e");
  {
    auto inventory = host::read_sysfs_inventory(kernel);  // what pcipass sees
    ASSERT_TRUE(inventory) << inventory.error().message;
    const core::PciDevice* pf = inventory->find(*core::PciAddress::parse("0000:02:00.0"));
    ASSERT_NE(pf, nullptr);
    EXPECT_EQ(pf->sriov_num_vfs, 0u);
    EXPECT_TRUE(pf->virtual_functions.empty());
    EXPECT_EQ(inventory->devices().size(), 7u);  // 11 functions at boot, 4 of them VFs
  }

  // Two come back fresh: no override, on iavf, with their links and groups.
  EXPECT_EQ(errno_of("2"), "ok");
  EXPECT_EQ(kernel.driver_of("0000:02:02.0"), "iavf");
  EXPECT_EQ(kernel.driver_of("0000:02:02.1"), "iavf");
  EXPECT_EQ(kernel.override_of("0000:02:02.1"), "");
  EXPECT_FALSE(kernel.exists("bus/pci/devices/0000:02:02.2"));
  EXPECT_TRUE(kernel.exists("kernel/iommu_groups/8/devices/0000:02:02.1"));
  EXPECT_TRUE(kernel.exists("bus/pci/devices/0000:02:00.0/virtfn1/vendor"));

  // Without the PF's driver nothing can be configured; more VFs than the
  // generated host had is a mistake in the test, not a kernel answer.
  EXPECT_EQ(errno_of("0"), "ok");
  EXPECT_THROW((void)kernel.write(numvfs, "5"), std::logic_error);
  ASSERT_TRUE(kernel.write("bus/pci/drivers/i40e/unbind", "0000:02:00.0"));
  EXPECT_EQ(errno_of("4"), "No such file or directory");
  ASSERT_TRUE(kernel.write("bus/pci/drivers_probe", "0000:02:00.0"));
  EXPECT_EQ(errno_of("4"), "ok");
  kernel.reboot();
  EXPECT_EQ(snapshot_tree(kernel.sys_root()), boot);
}

}  // namespace
}  // namespace pcipass::test
