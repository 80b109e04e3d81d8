// `pcipass bind`, `release` and `status` end to end: the real binary on a
// copy of a simulated host. A copied tree has no kernel behind it (writes
// land in plain files), so these tests cover what the binary decides and
// prints; binding by behaviour is tested on the simulated kernel
// (tests/host/test_executor.cpp).

#include "support/simulated_kernel.hpp"

#include <pcipass/host/journal.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

// A private copy of a simulated host; the commands get its sys/ and a state folder.
struct CopiedHost {
  explicit CopiedHost(const std::string& name) {
    for (const char* part : {"sys", "proc", "dev"}) {
      if (fs::exists(sim_host(name) / part)) {
        fs::copy(sim_host(name) / part, dir.path() / part,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      }
    }
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"--sysfs-root", sys().string(), "--state-dir", state().string()});
    return rest;
  }
  fs::path sys() const { return dir.path() / "sys"; }
  fs::path state() const { return dir.path() / "state"; }
  TempDir dir;
};

TEST(CliBind, RefusalListsEveryProblemAndChangesNothing) {
  CopiedHost host("workstation");
  const std::string before = snapshot_tree(host.dir.path());
  const auto r = run_pcipass(host.args({"bind", "2d:00.1", "00:01.1", "0000:01:00.0"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(
      r.err,
      "pcipass: error: refusing to bind:\n"
      "  0000:00:01.1: is a bridge; bridges and host bridges stay with the host\n"
      "  0000:01:00.0: used by the host: backs / (ext4 on /dev/nvme0n1p2); backs /boot/efi (vfat "
      "on "
      "/dev/nvme0n1p1); swap on /dev/nvme0n1p3 (--force binds it anyway)\n"
      "  0000:2d:00.0 (IOMMU group 15, added with 0000:2d:00.1): used by the host: boot VGA "
      "device; "
      "framebuffer console (fb0) (--force binds it anyway; --exact leaves group members alone)\n");
  fs::remove_all(host.state());  // the lock file is the only thing a refused run leaves
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

TEST(CliBind, MalformedAddressIsAUsageError) {
  CopiedHost host("workstation");
  const auto r = run_pcipass(host.args({"bind", "2d:00"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
}

TEST(CliBind, DryRunPrintsEveryWriteAndLeavesTheTreeByteIdentical) {
  CopiedHost host("workstation");
  const std::string before = snapshot_tree(host.dir.path());
  const auto r = run_pcipass(host.args({"bind", "--dry-run", "--force", "2d:00.1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sys = host.sys().string();
  EXPECT_EQ(r.out,
            "note: 0000:2d:00.0 is used by the host (boot VGA device; framebuffer console (fb0)); "
            "binding it "
            "anyway (--force)\n"
            "note: added 0000:2d:00.0 (IOMMU group 15, added with 0000:2d:00.1): a guest needs its "
            "whole IOMMU "
            "group\n"
            "bind 0000:2d:00.0 (1002:73ff, IOMMU group 15) to vfio-pci, from amdgpu\n"
            "  write \"vfio-pci\" to " +
                sys +
                "/bus/pci/devices/0000:2d:00.0/driver_override\n"
                "  write \"0000:2d:00.0\" to " +
                sys +
                "/bus/pci/drivers/amdgpu/unbind\n"
                "  write \"0000:2d:00.0\" to " +
                sys +
                "/bus/pci/drivers_probe\n"
                "bind 0000:2d:00.1 (1002:ab28, IOMMU group 15) to vfio-pci, from snd_hda_intel\n"
                "  write \"vfio-pci\" to " +
                sys +
                "/bus/pci/devices/0000:2d:00.1/driver_override\n"
                "  write \"0000:2d:00.1\" to " +
                sys +
                "/bus/pci/drivers/snd_hda_intel/unbind\n"
                "  write \"0000:2d:00.1\" to " +
                sys +
                "/bus/pci/drivers_probe\n"
                "dry run: nothing was changed\n");
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

TEST(CliBind, DryRunJsonGivesTheSameAsData) {
  CopiedHost host("laptop");
  const auto r = run_pcipass(host.args({"--json", "bind", "--dry-run", "--exact", "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["dry_run"], true);
  ASSERT_EQ(doc["actions"].size(), 2u);
  EXPECT_EQ(doc["actions"][0]["action"],
            (nlohmann::json{{"action", "load-module"}, {"name", "vfio_pci"}}));
  EXPECT_EQ(doc["actions"][0]["operations"][0],
            (nlohmann::json{{"kind", "modprobe"}, {"target", "vfio_pci"}, {"value", ""}}));
  EXPECT_EQ(doc["actions"][1]["action"]["restore_driver"], "rtsx_pci");
  EXPECT_EQ(doc["actions"][1]["operations"].size(), 3u);
  EXPECT_EQ(doc["error"], nullptr);
}

TEST(CliBind, ModprobeIsNeverRunForASimulatedTree) {
  CopiedHost host("laptop");
  const auto r = run_pcipass(host.args({"bind", "--exact", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(
      r.err,
      "pcipass: error: loading kernel module vfio_pci: not loaded for the sysfs root " +
          host.sys().string() +
          " (modprobe would change the running kernel, not that tree); load it there first\n");
  const auto status = run_pcipass(host.args({"status"}));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "failed: load kernel module vfio_pci (modprobe vfio_pci) (" +
                            r.err.substr(16, r.err.size() - 17) + ")\n");
}

TEST(CliBind, NoWaitFailsWithExitCode6WhileAnotherRunHoldsTheLock) {
  CopiedHost host("workstation");
  auto lock = host::StateLock::acquire(host.state(), host::Wait::no);
  ASSERT_TRUE(lock);
  const auto r = run_pcipass(host.args({"bind", "--no-wait", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_EQ(r.err, "pcipass: error: another pcipass run holds the lock " +
                       (host.state() / "lock").string() +
                       "; wait for it to finish, or run again without --no-wait to wait for it\n");
  EXPECT_EQ(r.out, "");
}

// On a tree without a kernel the probe binds nothing, so verification fails
// after the writes: exactly the state a crashed run leaves. Status shows it
// and release --all undoes it.
TEST(CliBind, AFailedBindIsShownByStatusAndUndoneByRelease) {
  CopiedHost host("workstation");
  const auto bind = run_pcipass(host.args({"bind", "02:00.0"}));
  EXPECT_EQ(bind.exit_code, 4);
  EXPECT_EQ(bind.err,
            "pcipass: error: binding 0000:02:00.0 to vfio-pci: after probing, its driver is nvme, "
            "not vfio-pci\n");

  const auto status = run_pcipass(host.args({"status"}));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(
      status.out,
      "DEVICE        IDS        GROUP  JOURNAL  RESTORE-TO  DRIVER  OVERRIDE  VFIO-NODE  STATE\n"
      "0000:02:00.0  1b96:2600  9      failed   nvme        nvme    vfio-pci  missing    "
      "interrupted "
      "(failed): run pcipass bind again to finish, or pcipass release to undo\n");

  const auto release = run_pcipass(host.args({"release", "--all"}));
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_EQ(release.out,
            "release 0000:02:00.0 (1b96:2600) from nvme back to nvme\n"
            "  write \"\\n\" to " +
                host.sys().string() + "/bus/pci/devices/0000:02:00.0/driver_override\n");
  const auto after = run_pcipass(host.args({"status"}));
  EXPECT_EQ(after.out, "pcipass has changed nothing on this host (journal " +
                           (host.state() / "journal.json").string() + ")\n");
}

TEST(CliBind, BringupJsonWhoseBindFailsPrintsTheHostStepAndTouchesNoGuest) {
  // A copied tree has no kernel: the probe moves nothing, so the bind fails.
  CopiedHost host("workstation");
  const fs::path guest = host.dir.path() / "guests/xfs.xml";
  put_file(guest, sample_guest("xfs"));
  const auto r = run_pcipass(host.args({"--json", "bringup", "02:00.0=xfs", "--xml-dir",
                                        (host.dir.path() / "guests").string()}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  const std::string message =
      "binding 0000:02:00.0 to vfio-pci: after probing, its driver is nvme, not vfio-pci";
  EXPECT_EQ(doc["host"]["command"], "bringup");
  EXPECT_EQ(doc["host"]["error"], message);
  EXPECT_EQ(doc["error"], message);
  EXPECT_EQ(doc["guest_changes"], nlohmann::json::array());
  EXPECT_EQ(file_text(guest), sample_guest("xfs"));
}

TEST(CliRelease, ADeviceThatLeftTheHostIsForgotten) {
  CopiedHost host("workstation");
  ASSERT_EQ(run_pcipass(host.args({"bind", "02:00.0"})).exit_code, 4);  // journaled, failed
  fs::remove(host.sys() / "bus/pci/devices/0000:02:00.0");               // the card is taken out
  const auto status = run_pcipass(host.args({"status"}));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("device missing: not on this host now; restore skips it, pcipass "
                            "release forgets it"),
            std::string::npos)
      << status.out;
  const std::string before = snapshot_tree(host.sys());
  const auto release = run_pcipass(host.args({"release", "--all"}));
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_EQ(release.out,
            "forget 0000:02:00.0 (1b96:2600): no longer on this host, nothing to give back\n");
  EXPECT_EQ(snapshot_tree(host.sys()), before);
  const auto after = run_pcipass(host.args({"status"}));
  EXPECT_EQ(after.out, "pcipass has changed nothing on this host (journal " +
                           (host.state() / "journal.json").string() + ")\n");
}

TEST(CliRelease, NeedsDevicesOrAllAndRefusesStrangers) {
  CopiedHost host("workstation");
  const auto none = run_pcipass(host.args({"release"}));
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, "pcipass: error: release needs either device addresses or --all\n");
  const auto stranger = run_pcipass(host.args({"release", "02:00.0"}));
  EXPECT_EQ(stranger.exit_code, 5);
  EXPECT_EQ(stranger.err,
            "pcipass: error: refusing to release:\n  0000:02:00.0: not bound by pcipass (the "
            "journal has no "
            "record of it)\n");
}

TEST(CliBind, StateDefaultsToBesideASimulatedHost) {
  CopiedHost host("workstation");
  const auto r = run_pcipass({"--sysfs-root", host.sys().string(), "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "pcipass has changed nothing on this host (journal " +
                       (host.dir.path() / "var/lib/pcipass/journal.json").string() + ")\n");
}

TEST(CliBind, AHostWithoutIommuFailsWithTheFixWhicheverDevicesAreNamed) {
  // bind and bringup read only the named devices and their groups; the
  // answer on a host without IOMMU must not depend on which ones they are.
  CopiedHost host("noiommu");
  const std::string before = snapshot_tree(host.dir.path());
  const std::string message =
      "pcipass: error: this host has no IOMMU groups: the IOMMU is missing or disabled. Enable "
      "VT-d (Intel) or AMD-Vi (AMD) in the firmware and boot with intel_iommu=on or "
      "amd_iommu=on (plus iommu=pt) on the kernel command line\n";
  for (const char* device : {"0000:00:02.0", "0000:7f:00.0"}) {
    const auto bind = run_pcipass(host.args({"bind", device}));
    EXPECT_EQ(bind.exit_code, 4) << device;
    EXPECT_EQ(bind.err, message) << device;
    const auto bringup = run_pcipass(host.args(
        {"bringup", "--xml-dir", host.dir.path().string(), std::string(device) + "=guest"}));
    EXPECT_EQ(bringup.exit_code, 4) << device;
    EXPECT_EQ(bringup.err, message) << device;
  }
  fs::remove_all(host.state());
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

TEST(CliBind, ADeviceTheHostLacksIsRefusedBesideOnesItHas) {
  CopiedHost host("workstation");
  const auto r = run_pcipass(host.args({"bind", "--dry-run", "0000:7f:00.0", "02:00.0"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to bind:\n  0000:7f:00.0: no such PCI device on this host\n");
}

TEST(CliBind, ABrokenDeviceElsewhereStopsListButNotBindOrPlan) {
  // Only the named devices and their IOMMU groups are read: a device the
  // kernel cannot describe fails `list` (no silently partial table) but not
  // work on other devices.
  CopiedHost host("workstation");
  const fs::path broken = host.sys() / "bus/pci/devices/0000:02:00.0";
  fs::remove(fs::canonical(broken) / "config");
  fs::remove(fs::canonical(broken) / "vendor");
  const auto list = run_pcipass(host.args({"list"}));
  EXPECT_EQ(list.exit_code, 4);
  EXPECT_NE(list.err.find("0000:02:00.0/vendor: No such file or directory"), std::string::npos)
      << list.err;
  const auto bind = run_pcipass(host.args({"bind", "--dry-run", "06:00.0"}));
  EXPECT_EQ(bind.exit_code, 0) << bind.err;
  EXPECT_NE(bind.out.find("bind 0000:06:00.0 (1022:149c, IOMMU group 14) to vfio-pci"),
            std::string::npos)
      << bind.out;
  const auto plan = run_pcipass(host.args({"plan", "06:00.0=guest"}));
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  // Named, the broken device fails the run with the reason.
  const auto named = run_pcipass(host.args({"plan", "02:00.0=guest"}));
  EXPECT_EQ(named.exit_code, 4);
  EXPECT_NE(named.err.find("0000:02:00.0/vendor: No such file or directory"), std::string::npos)
      << named.err;
}

}  // namespace
}  // namespace pcipass::test

namespace pcipass::test {
namespace {

// The server's X710 PFs have 63 VFs each: the PF is refused (its driver
// would take the VFs with it), a VF binds, and list says which is which.
TEST(CliBind, APfWithVfsIsRefusedAndListShowsWhoseVfIsWhich) {
  TempDir state;
  const std::string sys = (sim_host("server") / "sys").string();
  const auto pf = run_pcipass({"--sysfs-root", sys, "--state-dir", state.path().string(), "bind",
                               "--dry-run", "--force", "0000:01:00.0"});
  EXPECT_EQ(pf.exit_code, 5) << pf.err;
  EXPECT_NE(pf.err.find("0000:01:00.0: is an SR-IOV physical function with 63 virtual functions "
                        "enabled (0000:01:02.0 and 62 more); unbinding i40e removes them"),
            std::string::npos)
      << pf.err;
  const auto vf = run_pcipass({"--sysfs-root", sys, "--state-dir", state.path().string(), "bind",
                               "--dry-run", "0000:01:02.1"});
  EXPECT_EQ(vf.exit_code, 0) << vf.err;

  const auto list = run_pcipass({"--sysfs-root", sys, "list", "--group", "2", "--group", "139"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("X710 for 10GbE SFP+ (PF of 63 VFs)"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("Virtual Function 700 Series (VF 1 of 0000:01:00.0)"), std::string::npos)
      << list.out;
}

}  // namespace
}  // namespace pcipass::test

namespace pcipass::test {
namespace {

// `pcipass vfs` as a person meets it: bad counts and devices are usage
// errors, a dry run prints the writes (through 0) and changes nothing, and
// the plan is journaled data with --json. What the kernel then does is
// tested on the simulated kernel (tests/host/test_sriov_lifecycle.cpp).
TEST(CliVfs, CountsAreCheckedAndADryRunShowsTheWrites) {
  CopiedHost host("sriov");
  const std::string before = snapshot_tree(host.dir.path());
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"vfs", "02:00.0", "nine"}, 2, "invalid VF count 'nine'"},
      {{"vfs", "02:00.0", "9"}, 2, "0000:02:00.0 supports at most 8 VFs, not 9"},
      {{"vfs", "03:00.0", "1"}, 2, "0000:03:00.0 is not an SR-IOV physical function"},
      {{"vfs", "02:00.0"}, 2, "COUNT is required"},
  };
  for (const Case& c : cases) {
    const auto r = run_pcipass(host.args(c.args));
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  const auto dry = run_pcipass(host.args({"vfs", "--dry-run", "02:00.0", "2"}));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const std::string numvfs =
      (host.sys() / "bus/pci/devices/0000:02:00.0/sriov_numvfs").string();
  EXPECT_EQ(dry.out,
            "note: 0000:02:00.0: the kernel goes from 4 VFs to 0 first, so its VFs are made anew\n"
            "set 0000:02:00.0 (8086:1572) to 2 VFs (from 4)\n"
            "  write \"0\" to " + numvfs + "\n"
            "  write \"2\" to " + numvfs + "\n"
            "dry run: nothing was changed\n");
  const auto json = run_pcipass(host.args({"--json", "vfs", "--dry-run", "02:00.0", "0"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["actions"][0]["action"]["action"], "set-vf-count");
  EXPECT_EQ(doc["actions"][0]["action"]["count"], 0);
  EXPECT_EQ(doc["actions"][0]["action"]["previous"], 4);
  fs::remove_all(host.state());
  EXPECT_EQ(snapshot_tree(host.dir.path()), before);
}

}  // namespace
}  // namespace pcipass::test

namespace pcipass::test {
namespace {

// The commands around a VF count, on a copied tree (plain files: the count
// is what is written; the VFs themselves are the simulated kernel's
// business): status shows it, restore sets it again first after a
// "reboot", release --all gives the earlier count back.
TEST(CliVfs, StatusRestoreAndReleaseAllFollowTheCount) {
  CopiedHost host("sriov");
  const fs::path numvfs = host.sys() / "bus/pci/devices/0000:02:00.0/sriov_numvfs";
  const auto read = [&] {
    std::ifstream in(numvfs);
    std::string text;
    std::getline(in, text);
    return text;
  };
  ASSERT_EQ(run_pcipass(host.args({"vfs", "02:00.0", "2"})).exit_code, 0);
  EXPECT_EQ(read(), "2");
  auto status = run_pcipass(host.args({"status"}));
  EXPECT_NE(status.out.find("done: set 0000:02:00.0 (8086:1572) to 2 VFs (from 4); it has 2 now"),
            std::string::npos)
      << status.out;

  std::ofstream(numvfs) << "4\n";  // the reboot: the boot count again
  auto restore = run_pcipass(host.args({"--json", "restore"}));
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  const auto doc = nlohmann::json::parse(restore.out);
  EXPECT_EQ(doc["vf_counts"]["actions"][0]["action"]["count"], 2) << restore.out;
  EXPECT_EQ(read(), "2");
  EXPECT_EQ(run_pcipass(host.args({"restore"})).out, "nothing to do\n");

  auto release = run_pcipass(host.args({"release", "--all"}));
  ASSERT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.out.find("give 0000:02:00.0 (8086:1572) back its 4 VFs (from 2)"),
            std::string::npos)
      << release.out;
  EXPECT_EQ(read(), "4");
  EXPECT_NE(run_pcipass(host.args({"status"})).out.find("pcipass has changed nothing"),
            std::string::npos);
}

// A VF count restore cannot set is a failed step like a failed bind: the
// rest goes ahead and restore exits 4 naming it.
TEST(CliVfs, ACountRestoreCannotSetIsAFailedStep) {
  CopiedHost host("sriov");
  const fs::path numvfs = host.sys() / "bus/pci/devices/0000:02:00.0/sriov_numvfs";
  ASSERT_EQ(run_pcipass(host.args({"vfs", "02:00.0", "2"})).exit_code, 0);
  fs::remove(numvfs);
  fs::create_directory(numvfs);  // unwritable, and the count unreadable (4 VFs listed)
  const auto r = run_pcipass(host.args({"restore"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("sriov_numvfs"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace pcipass::test
