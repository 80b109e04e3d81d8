// Restore after a reboot, on the simulated kernel: bind and permissions,
// then a reboot (sys/ and dev/ afresh, etc/ and the journal kept), then
// restore must bring back what the kernel shows, do nothing a second time,
// survive a crash at every step, and release --all must undo it all.

#include "support/host_rig.hpp"

#include <pcipass/core/permissions_planner.hpp>
#include <pcipass/core/restore_planner.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

#include <grp.h>
#include <unistd.h>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_zns = "0000:02:00.0";  // workstation: nvme, group 9, free

core::PciAddress addr(const char* text) {
  return core::PciAddress::parse(text).value();
}

// A group this process may give its files to: its own primary group.
std::string own_group() {
  const struct group* entry = ::getgrgid(::getgid());
  return entry == nullptr ? std::string() : std::string(entry->gr_name);
}

// The shared rig with the steps these tests take.
struct Rig : test::HostRig {
  using HostRig::HostRig;

  core::Status bind_and_open(const std::string& group) {
    core::BindRequest request{{addr(k_zns)}, core::Force::no, core::GroupExpansion::named_only};
    auto plan = core::plan_bind(inventory(), request, journal().state(), vfio());
    if (!plan) return core::fail(plan.error());
    if (auto bound = run(plan->actions); !bound) return bound;
    core::PermissionRequest perms;
    perms.devices = {{addr(k_zns), group_of_zns(), kernel.driver_of(k_zns)}};
    perms.group = group;
    perms.limit_name = group;
    perms.sysfs_root = kernel.sys_root().string();
    perms.dev_root = kernel.dev_root().string();
    perms.etc_root = etc().string();
    auto actions = core::plan_permissions(perms);
    if (!actions) return core::fail(actions.error());
    return run(*actions);
  }
  unsigned group_of_zns() { return *inventory().find(addr(k_zns))->iommu_group; }
  core::RestorePlan plan_restore() {
    const Journal j = journal();
    const auto files = read_file_states(os, j.state()).value_or_throw();
    return core::plan_restore(inventory(), j.state(), vfio(), files,
                              core::RestoreRequest{core::Force::no, kernel.sys_root().string()});
  }
  core::Status restore() { return run(plan_restore().plan.actions); }
  core::Status release_all() {
    const Journal j = journal();
    core::ReleaseRequest request;
    request.scope = core::ReleaseScope::all;
    auto plan = core::plan_release(inventory(), request, j.state());
    if (!plan) return core::fail(plan.error());
    const auto files = read_file_states(os, j.state()).value_or_throw();
    const core::Plan undo = core::plan_release_files(j.state(), files);
    plan->actions.insert(plan->actions.end(), undo.actions.begin(), undo.actions.end());
    return run(plan->actions);
  }
  unsigned mode(const std::string& relative) const {
    return static_cast<unsigned>(fs::status(kernel.sys_root() / relative).permissions() &
                                 fs::perms::all);
  }
};

// What "applied" means, read from the kernel and the files, not from the journal.
void expect_applied(Rig& rig, const std::string& vfio_unbind) {
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_EQ(rig.kernel.override_of(k_zns), "vfio-pci");
  const fs::path node = rig.kernel.dev_root() / "vfio" / std::to_string(rig.group_of_zns());
  EXPECT_TRUE(fs::exists(node));
  // The kernel makes the node 0600 at each bind; permissions and restore open it.
  EXPECT_EQ(fs::status(node).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::group_write);
  EXPECT_EQ(rig.mode("bus/pci/devices/0000:02:00.0/driver_override"), 0664u);
  EXPECT_EQ(rig.mode(vfio_unbind), 0220u);
  EXPECT_EQ(rig.mode("bus/pci/drivers_probe"), 0220u);
  EXPECT_TRUE(fs::exists(rig.etc() / "udev/rules.d/90-pcipass-vfio.rules"));
  EXPECT_TRUE(fs::exists(rig.etc() / "security/limits.d/90-pcipass-memlock.conf"));
}

TEST(Restore, AfterARebootBringsBackDriversModesAndFilesAndASecondRunChangesNothing) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  // workstation has vfio-pci loaded at boot; laptop loads it during restore,
  // and the mode of vfio-pci's unbind waits for that.
  for (const char* host : {"workstation", "laptop"}) {
    SCOPED_TRACE(host);
    Rig rig(host);
    const std::string native = rig.kernel.driver_of(k_zns);
    ASSERT_TRUE(rig.bind_and_open(group));
    expect_applied(rig, "bus/pci/drivers/vfio-pci/unbind");
    const std::string rules = test::snapshot_tree(rig.etc());

    rig.kernel.reboot();
    EXPECT_EQ(rig.kernel.driver_of(k_zns), native);
    EXPECT_EQ(rig.kernel.override_of(k_zns), "");
    EXPECT_EQ(rig.mode("bus/pci/devices/0000:02:00.0/driver_override"), 0644u);

    const auto plan = rig.plan_restore();
    EXPECT_TRUE(plan.refused.empty());
    ASSERT_TRUE(rig.run(plan.plan.actions));
    expect_applied(rig, "bus/pci/drivers/vfio-pci/unbind");
    EXPECT_EQ(test::snapshot_tree(rig.etc()), rules);

    const std::string restored = test::snapshot_tree(rig.kernel.root());
    const auto again = rig.plan_restore();
    EXPECT_TRUE(again.plan.actions.empty());
    EXPECT_EQ(again.plan.notes.front(), "0000:02:00.0 is already on vfio-pci");
    ASSERT_TRUE(rig.run(again.plan.actions));
    EXPECT_EQ(test::snapshot_tree(rig.kernel.root()), restored);
  }
}

TEST(Restore, ReleaseAllUndoesDevicesModesAndFiles) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  Rig rig("workstation");
  const std::string boot = test::snapshot_tree(rig.kernel.sys_root());
  ASSERT_TRUE(rig.bind_and_open(group));
  ASSERT_TRUE(rig.release_all());
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_EQ(test::snapshot_tree(rig.kernel.sys_root()), boot);  // modes back too
  EXPECT_FALSE(fs::exists(rig.etc() / "udev/rules.d/90-pcipass-vfio.rules"));
  EXPECT_FALSE(fs::exists(rig.etc() / "security/limits.d/90-pcipass-memlock.conf"));
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(Restore, ADeviceWhoseIdsChangedOverTheRebootIsLeftAlone) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  Rig rig("workstation");
  ASSERT_TRUE(rig.bind_and_open(group));
  rig.kernel.reboot();
  rig.kernel.set_ids(k_zns, 0x8086, 0x0a54);  // another drive in the slot
  const auto plan = rig.plan_restore();
  EXPECT_EQ(plan.refused,
            std::vector<std::string>{"0000:02:00.0: is now 8086:0a54, but pcipass bound 1b96:2600 "
                                     "there; not touching it"});
  ASSERT_TRUE(rig.run(plan.plan.actions));  // the modes and files are still restored
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "nvme");
  EXPECT_EQ(rig.kernel.override_of(k_zns), "");
  EXPECT_TRUE(std::none_of(rig.kernel.writes().begin(), rig.kernel.writes().end(),
                           [](const std::string& w) { return w.find(k_zns) != std::string::npos; }))
      << "a write named the changed device";
}

// kill -9 between any two steps of a restore after a reboot: a second
// restore finishes it, and release --all from there leaves a clean host.
TEST(Restore, ACrashAtAnyStepIsFinishedByRestoreOrUndoneByRelease) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  bool finished = false;
  for (int k = 0; !finished && k < 100; ++k) {
    for (bool release_after : {false, true}) {
      SCOPED_TRACE("crash after step " + std::to_string(k) +
                   (release_after ? ", then release --all" : ", then restore"));
      Rig rig("laptop");
      ASSERT_TRUE(rig.bind_and_open(group));
      rig.kernel.reboot();  // vfio_pci is not loaded at this boot
      const auto plan = rig.plan_restore();
      if (!rig.crashing_after(k, [&] { ASSERT_TRUE(rig.run(plan.plan.actions)); })) finished = true;
      if (!release_after) {
        auto again = rig.restore();
        ASSERT_TRUE(again) << again.error().message;
        expect_applied(rig, "bus/pci/drivers/vfio-pci/unbind");
        continue;
      }
      auto release = rig.release_all();
      ASSERT_TRUE(release) << release.error().message;
      EXPECT_EQ(rig.kernel.driver_of(k_zns), "rtsx_pci");
      EXPECT_EQ(rig.kernel.override_of(k_zns), "");
      EXPECT_FALSE(fs::exists(rig.etc() / "udev/rules.d/90-pcipass-vfio.rules"));
      // Only module loads stay (pcipass never unloads one).
      const Journal journal = rig.journal();
      for (const core::JournalEntry& entry : journal.state().entries()) {
        EXPECT_TRUE(std::holds_alternative<core::LoadModule>(entry.action))
            << core::describe(entry.action);
      }
    }
  }
  EXPECT_TRUE(finished) << "the restore never completed";
}

// kill -9 during release --all: running it again finishes the undo.
TEST(Restore, ACrashDuringReleaseAllIsFinishedByReleaseAll) {
  const std::string group = own_group();
  if (group.empty()) GTEST_SKIP() << "this process's group has no name";
  bool finished = false;
  for (int k = 0; !finished && k < 100; ++k) {
    SCOPED_TRACE("crash after step " + std::to_string(k));
    Rig rig("workstation");
    const std::string boot = test::snapshot_tree(rig.kernel.sys_root());
    ASSERT_TRUE(rig.bind_and_open(group));
    if (!rig.crashing_after(k, [&] { ASSERT_TRUE(rig.release_all()); })) finished = true;
    // A restore in between must not undo the undo half way.
    ASSERT_TRUE(rig.restore());
    auto release = rig.release_all();
    ASSERT_TRUE(release) << release.error().message;
    EXPECT_EQ(test::snapshot_tree(rig.kernel.sys_root()), boot);
    EXPECT_FALSE(fs::exists(rig.etc() / "udev/rules.d/90-pcipass-vfio.rules"));
    EXPECT_TRUE(rig.journal().state().empty());
  }
  EXPECT_TRUE(finished) << "release --all never completed";
}

}  // namespace
}  // namespace pcipass::host
