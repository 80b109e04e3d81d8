// Binding and releasing on the simulated kernel, judged by what happens to
// the tree: driver links, driver_override, /dev/vfio/N, and the journal —
// including after a failure or a crash at every single step.

#include "support/host_rig.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;
using core::Force;
using core::GroupExpansion;

core::PciAddress addr(const char* text) {
  return core::PciAddress::parse(text).value();
}

using Rig = test::HostRig;

constexpr const char* k_zns = "0000:02:00.0";   // workstation: nvme, group 9, free
constexpr const char* k_gpu = "0000:2d:00.0";   // workstation: amdgpu, group 15, boot VGA
constexpr const char* k_hdmi = "0000:2d:00.1";  // workstation: snd_hda_intel, group 15
constexpr const char* k_usb = "0000:06:00.0";   // workstation: xhci_hcd, group 14

TEST(Executor, BindMovesTheDeviceToVfioAndReleaseGivesItBack) {
  Rig rig("workstation");
  ASSERT_TRUE(rig.bind({k_zns})) << rig.bind({k_zns}).error().message;
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_EQ(rig.kernel.override_of(k_zns), "vfio-pci");
  EXPECT_TRUE(rig.vfio_node(9));
  const Journal after_bind = rig.journal();
  ASSERT_EQ(after_bind.state().entries().size(), 1u);
  const core::JournalEntry& entry = after_bind.state().entries()[0];
  EXPECT_EQ(entry.state, core::EntryState::done);
  EXPECT_EQ(std::get<core::BindToVfio>(entry.action).restore_driver, "nvme");
  EXPECT_EQ(rig.kernel.writes(), (std::vector<std::string>{
                                     "bus/pci/devices/0000:02:00.0/driver_override <- vfio-pci",
                                     "bus/pci/drivers/nvme/unbind <- 0000:02:00.0",
                                     "bus/pci/drivers_probe <- 0000:02:00.0",
                                 }));

  ASSERT_TRUE(rig.release_all());
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_EQ(rig.kernel.override_of(k_zns), "");
  EXPECT_FALSE(rig.vfio_node(9));
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(Executor, ADeviceThatLeftTheHostIsForgottenAndOneThatCameBackIsNot) {
  Rig rig("workstation");
  ASSERT_TRUE(rig.bind({k_zns}, Force::no, GroupExpansion::named_only));
  // The card is taken out: its folder leaves bus/pci/devices.
  const fs::path link = rig.kernel.sys_root() / "bus/pci/devices" / k_zns;
  const fs::path target = fs::read_symlink(link);
  fs::remove(link);
  core::ReleaseRequest request;
  request.scope = core::ReleaseScope::all;
  const core::Plan plan =
      core::plan_release(rig.inventory(), request, rig.journal().state()).value_or_throw();
  ASSERT_EQ(plan.actions.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<core::ForgetDevice>(plan.actions[0]));

  // Back before the plan runs: refused, nothing written, the journal keeps it.
  fs::create_directory_symlink(target, link);
  const std::size_t writes = rig.kernel.writes().size();
  auto refused = rig.run(plan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ExitCode::refused);
  EXPECT_EQ(refused.error().message,
            "forgetting 0000:02:00.0: " + link.string() +
                " is there again; nothing was changed (run pcipass release again to give it "
                "back to its driver)");
  EXPECT_EQ(rig.kernel.writes().size(), writes);
  ASSERT_NE(rig.journal().state().bind_entry(addr(k_zns)), nullptr);

  // Gone for good: forgotten, and the journal is empty.
  fs::remove(link);
  ASSERT_TRUE(rig.run(plan));
  EXPECT_EQ(rig.kernel.writes().size(), writes);
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(Executor, BindingASecondTimeIsANoOp) {
  Rig rig("workstation");
  ASSERT_TRUE(rig.bind({k_zns}));
  const auto plan = rig.plan_bind({k_zns});
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_EQ(plan.notes, std::vector<std::string>{"0000:02:00.0 is already on vfio-pci"});
}

TEST(Executor, ForcedGroupBindTakesTheWholeGroup) {
  Rig rig("workstation");
  const auto plan = rig.plan_bind({k_hdmi}, Force::yes);
  EXPECT_EQ(plan.notes,
            (std::vector<std::string>{
                "0000:2d:00.0 is used by the host (boot VGA device; framebuffer console (fb0)); "
                "binding it anyway (--force)",
                "added 0000:2d:00.0 (IOMMU group 15, added with 0000:2d:00.1): a guest needs its "
                "whole IOMMU group",
            }));
  ASSERT_TRUE(rig.run(plan));
  EXPECT_EQ(rig.kernel.driver_of(k_gpu), "vfio-pci");
  EXPECT_EQ(rig.kernel.driver_of(k_hdmi), "vfio-pci");
  EXPECT_TRUE(rig.vfio_node(15));
  ASSERT_TRUE(rig.release_all());
  EXPECT_EQ(rig.kernel.driver_of(k_gpu), "amdgpu");
  EXPECT_EQ(rig.kernel.driver_of(k_hdmi), "snd_hda_intel");
  EXPECT_FALSE(rig.vfio_node(15));
}

TEST(Executor, ADifferentDeviceAtTheAddressIsCaughtBeforeAnythingChanges) {
  Rig rig("workstation");
  const auto plan = rig.plan_bind({k_zns});
  rig.kernel.set_ids(k_zns, 0x8086, 0x0a54);  // someone swapped the drive
  auto result = rig.run(plan);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::refused);
  EXPECT_EQ(result.error().message,
            "binding 0000:02:00.0: the device there is now 8086:0a54, not 1b96:2600 as planned; "
            "nothing was "
            "changed for it (run pcipass again to re-plan)");
  EXPECT_TRUE(rig.kernel.writes().empty());
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(Executor, AnIdenticalTwinAtTheAddressIsCaughtBeforeAnythingChanges) {
  Rig rig("twins");
  const auto plan = rig.plan_bind({"0000:02:00.0"});
  // Between planning and binding another drive of the same model shows up
  // there: same ids, another serial.
  const fs::path serial =
      rig.kernel.sys_root() / "bus/pci/devices/0000:02:00.0/nvme/nvme1/serial";
  ASSERT_TRUE(fs::exists(serial));
  { std::ofstream(serial) << "S7KHNJ0W100009\n"; }
  auto result = rig.run(plan);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::refused);
  EXPECT_EQ(result.error().message,
            "binding 0000:02:00.0: the device there is now another one (NVMe serial "
            "S7KHNJ0W100009, not S7KHNJ0W100001) than planned; nothing was changed for it (run "
            "pcipass again to re-plan)");
  EXPECT_TRUE(rig.kernel.writes().empty());
  EXPECT_EQ(rig.kernel.driver_of("0000:02:00.0"), "nvme");
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(Executor, DryRunShowsEveryWriteAndChangesNothing) {
  Rig rig("laptop");  // vfio-pci missing: the plan loads it
  const std::string before = test::snapshot_tree(rig.kernel.root());
  const auto plan = rig.plan_bind({"0000:02:00.0"}, Force::no, GroupExpansion::named_only);
  std::vector<std::string> lines;
  Executor executor(rig.kernel, rig.kernel.dev(), rig.os, nullptr, DryRun::yes, rig.roots());
  executor.set_observer([&](const core::Action& action, const std::vector<Operation>& ops) {
    lines.push_back(core::describe(action));
    for (const Operation& op : ops) lines.push_back("  " + op.line());
  });
  ASSERT_TRUE(executor.run(plan.actions));
  const std::string sys = rig.kernel.sys_root().string();
  EXPECT_EQ(lines,
            (std::vector<std::string>{
                "load kernel module vfio_pci (modprobe vfio_pci)",
                "  run modprobe vfio_pci",
                "bind 0000:02:00.0 (10ec:522a, IOMMU group 0) to vfio-pci, from rtsx_pci",
                "  write \"vfio-pci\" to " + sys + "/bus/pci/devices/0000:02:00.0/driver_override",
                "  write \"0000:02:00.0\" to " + sys + "/bus/pci/drivers/rtsx_pci/unbind",
                "  write \"0000:02:00.0\" to " + sys + "/bus/pci/drivers_probe",
            }));
  EXPECT_EQ(test::snapshot_tree(rig.kernel.root()), before);
  EXPECT_TRUE(rig.os.calls().empty());
  EXPECT_FALSE(fs::exists(rig.state() / "journal.json"));
}

TEST(Executor, LoadsVfioPciWhenMissing) {
  Rig rig("laptop");
  ASSERT_TRUE(rig.bind({"0000:02:00.0"}, Force::no, GroupExpansion::named_only));
  const std::string journal = "write " + (rig.state() / "journal.json").string();
  // Each action: journal (pending), the action, journal (done).
  EXPECT_EQ(rig.os.calls(),
            (std::vector<std::string>{journal, "modprobe vfio_pci", journal, journal, journal}));
  EXPECT_EQ(rig.kernel.driver_of("0000:02:00.0"), "vfio-pci");
  EXPECT_TRUE(rig.vfio_node(0));
}

TEST(Executor, AFailedModuleLoadStopsBeforeAnyDevice) {
  Rig rig("laptop");
  rig.os.fail_module(ENOENT);
  auto result = rig.bind({"0000:02:00.0"}, Force::no, GroupExpansion::named_only);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "loading kernel module vfio_pci: No such file or directory");
  EXPECT_TRUE(rig.kernel.writes().empty());
  const Journal journal = rig.journal();
  ASSERT_EQ(journal.state().entries().size(), 1u);
  EXPECT_EQ(journal.state().entries()[0].state, core::EntryState::failed);
  EXPECT_EQ(journal.state().entries()[0].error, result.error().message);
}

// The plan restore makes for two devices: both binds, then their nodes' modes.
std::vector<core::Action> two_devices_and_their_nodes(Rig& rig) {
  std::vector<core::Action> actions =
      rig.plan_bind({k_zns, k_usb}, Force::no, GroupExpansion::named_only).actions;
  for (unsigned group : {9u, 14u}) {
    actions.push_back(core::SetPermissions{
        (rig.kernel.dev_root() / "vfio" / std::to_string(group)).string(), 0660, "root"});
  }
  return actions;
}

TEST(Executor, KeepGoingFinishesTheOtherDevicesAndSkipsTheNodeOfAFailedBind) {
  Rig rig("workstation");
  rig.kernel.fail_write("bus/pci/devices/0000:02:00.0/driver_override", EIO);
  rig.keep_going = KeepGoing::yes;
  auto result = rig.run(two_devices_and_their_nodes(rig));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::host_error);
  EXPECT_EQ(result.error().message,
            "2 steps failed:\n"
            "  binding 0000:02:00.0 to vfio-pci: writing " +
                rig.kernel.sys_root().string() +
                "/bus/pci/devices/0000:02:00.0/driver_override: Input/output error\n"
                "  set mode 0660 and group root on " +
                (rig.kernel.dev_root() / "vfio/9").string() +
                ": not attempted, binding 0000:02:00.0 failed");
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_EQ(rig.kernel.driver_of(k_usb), "vfio-pci");
  EXPECT_EQ(fs::status(rig.kernel.dev_root() / "vfio/14").permissions() & fs::perms::all,
            fs::perms(0660));
  const Journal journal = rig.journal();
  EXPECT_EQ(journal.state().bind_entry(addr(k_zns))->state, core::EntryState::failed);
  EXPECT_EQ(journal.state().bind_entry(addr(k_usb))->state, core::EntryState::done);
}

TEST(Executor, WithoutKeepGoingTheFirstFailureStopsTheRun) {
  Rig rig("workstation");
  rig.kernel.fail_write("bus/pci/devices/0000:02:00.0/driver_override", EIO);
  auto result = rig.run(two_devices_and_their_nodes(rig));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message.find("steps failed"), std::string::npos);
  EXPECT_EQ(rig.kernel.driver_of(k_usb), "xhci_hcd");
}

TEST(Executor, KeepGoingStillStopsWhenTheJournalCannotBeWritten) {
  Rig rig("workstation");
  rig.os.fail_write(rig.state() / "journal.json", ENOSPC);
  rig.keep_going = KeepGoing::yes;
  auto result = rig.run(two_devices_and_their_nodes(rig));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message.find("steps failed"), std::string::npos)
      << result.error().message;
  EXPECT_TRUE(rig.kernel.writes().empty());
}

TEST(Executor, ProbeThatDoesNotBindIsReportedWithTheDriverFound) {
  Rig rig("workstation");
  // The vfio-pci driver goes away between planning and probing: the probe binds nothing.
  const auto plan = rig.plan_bind({k_zns});
  fs::remove_all(rig.kernel.sys_root() / "bus/pci/drivers/vfio-pci");
  auto result = rig.run(plan);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "binding 0000:02:00.0 to vfio-pci: after probing, its driver is no driver, not "
            "vfio-pci (is the "
            "vfio-pci module loaded? see dmesg)");
}

// A sysfs write or journal write that fails at any step: the error names the
// device, path and reason, the journal still knows the driver to give back,
// and both a re-run and a release finish the job.
TEST(Executor, AFailureAtEachStepLeavesARecoverableJournal) {
  const std::vector<std::string> paths{"bus/pci/devices/0000:02:00.0/driver_override",
                                       "bus/pci/drivers/nvme/unbind", "bus/pci/drivers_probe"};
  for (const std::string& path : paths) {
    for (int error : {EACCES, EIO, ENOSPC, EROFS}) {
      SCOPED_TRACE(path + " " + std::strerror(error));
      Rig rig("workstation");
      rig.kernel.fail_write(path, error);
      auto result = rig.bind({k_zns});
      ASSERT_FALSE(result);
      EXPECT_EQ(result.error().message, "binding 0000:02:00.0 to vfio-pci: writing " +
                                            rig.kernel.display_path(path) + ": " +
                                            std::strerror(error));
      const Journal journal = rig.journal();
      ASSERT_NE(journal.state().bind_entry(addr(k_zns)), nullptr);
      EXPECT_EQ(journal.state().bind_entry(addr(k_zns))->state, core::EntryState::failed);
      rig.kernel.clear_failures();

      ASSERT_TRUE(rig.bind({k_zns}));  // a re-run completes ...
      EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
      const Journal rerun = rig.journal();
      EXPECT_EQ(
          std::get<core::BindToVfio>(rerun.state().bind_entry(addr(k_zns))->action).restore_driver,
          "nvme");  // ... and still knows the driver to give back
      ASSERT_TRUE(rig.release_all());
      EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
      EXPECT_EQ(rig.kernel.override_of(k_zns), "");
      EXPECT_TRUE(rig.journal().state().empty());
    }
  }
}

TEST(Executor, AJournalThatCannotBeWrittenStopsBeforeTheDeviceIsTouched) {
  Rig rig("workstation");
  rig.os.fail_write(rig.state() / "journal.json", ENOSPC);
  auto result = rig.bind({k_zns});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "recording bind 0000:02:00.0 (1b96:2600, IOMMU group 9) to vfio-pci, from nvme in the "
            "journal: "
            "writing " +
                (rig.state() / "journal.json").string() + ": No space left on device");
  EXPECT_TRUE(rig.kernel.writes().empty());
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
}

struct CrashCase {
  std::string host;
  std::vector<const char*> devices;
  Force force;
  GroupExpansion expansion;
};

// The drivers every device of `host` has before anything runs.
std::map<std::string, std::string> drivers_of(test::SimulatedKernel& kernel,
                                              const core::Inventory& inventory) {
  std::map<std::string, std::string> drivers;
  for (const auto& [address, device] : inventory.devices())
    drivers[address.to_string()] = kernel.driver_of(address.to_string());
  return drivers;
}

void expect_clean(Rig& rig, const std::map<std::string, std::string>& original) {
  for (const auto& [address, driver] : original) {
    EXPECT_EQ(rig.kernel.driver_of(address), driver) << address;
    EXPECT_EQ(rig.kernel.override_of(address), "") << address;
  }
  // Only a module load may stay: pcipass never unloads a module others may use.
  const Journal journal = rig.journal();
  for (const core::JournalEntry& entry : journal.state().entries()) {
    EXPECT_TRUE(std::holds_alternative<core::LoadModule>(entry.action))
        << core::describe(entry.action);
  }
}

// kill -9 between any two steps (sysfs writes, journal writes, modprobe):
// `release --all` afterwards brings every device back, and so does a re-run
// of bind followed by a release.
TEST(Executor, ACrashAtAnyStepIsFinishedOrUndone) {
  const std::vector<CrashCase> cases{
      {"workstation", {k_zns, k_hdmi}, Force::yes, GroupExpansion::whole_groups},
      {"laptop", {"0000:02:00.0"}, Force::no, GroupExpansion::named_only},
  };
  for (const CrashCase& c : cases) {
    bool finished = false;
    for (int k = 0; !finished && k < 100; ++k) {
      for (bool rerun_first : {false, true}) {
        SCOPED_TRACE(c.host + ", crash after step " + std::to_string(k) +
                     (rerun_first ? ", re-run" : ", release"));
        Rig rig(c.host);
        const auto original = drivers_of(rig.kernel, rig.inventory());
        const auto plan = rig.plan_bind(c.devices, c.force, c.expansion);
        if (!rig.crashing_after(k, [&] { ASSERT_TRUE(rig.run(plan)); })) finished = true;
        if (rerun_first) {
          auto rerun = rig.bind(c.devices, c.force, c.expansion);
          ASSERT_TRUE(rerun) << rerun.error().message;
          const Journal journal = rig.journal();
          for (const auto& [address, driver] : original) {
            const auto* entry = journal.state().bind_entry(addr(address.c_str()));
            if (entry == nullptr) continue;
            EXPECT_EQ(rig.kernel.driver_of(address), "vfio-pci") << address;
            EXPECT_EQ(std::get<core::BindToVfio>(entry->action).restore_driver, driver) << address;
          }
        }
        auto release = rig.release_all();
        ASSERT_TRUE(release) << release.error().message;
        expect_clean(rig, original);
      }
    }
    EXPECT_TRUE(finished) << c.host << ": the run never completed";
  }
}

TEST(Executor, ReleaseOfADeviceBoundBeforeAReboot) {
  // After a reboot the device is back on its own driver and driver_override
  // is gone; the journal still says bound. Release just forgets it.
  Rig rig("workstation");
  ASSERT_TRUE(rig.bind({k_zns}));
  ASSERT_TRUE(rig.kernel.write("bus/pci/drivers/vfio-pci/unbind", k_zns));
  ASSERT_TRUE(rig.kernel.write("bus/pci/devices/0000:02:00.0/driver_override", "\n"));
  ASSERT_TRUE(rig.kernel.write("bus/pci/drivers_probe", k_zns));
  ASSERT_TRUE(rig.release_all());
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_TRUE(rig.journal().state().empty());
}

}  // namespace
}  // namespace pcipass::host
