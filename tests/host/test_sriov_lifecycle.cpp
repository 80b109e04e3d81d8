// The VF lifecycle on the simulated kernel (issue 18): pcipass vfs changes a
// PF's VF count through the journal, restore makes the VFs again after a
// reboot before it binds them, release --all gives the PF its earlier count.

#include "support/host_rig.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/restore_planner.hpp>
#include <pcipass/core/sriov.hpp>

#include <gtest/gtest.h>

namespace pcipass::host {
namespace {

using core::PciAddress;

constexpr const char* k_pf = "0000:02:00.0";  // sriov host: X710 on i40e, 4 of 8 VFs
constexpr const char* k_vf1 = "0000:02:02.1";

PciAddress addr(const char* text) { return PciAddress::parse(text).value(); }

struct Rig : test::HostRig {
  Rig() : HostRig("sriov") {}

  core::Result<core::Plan> vfs(unsigned count) {
    return core::plan_vf_count(inventory(), {addr(k_pf), count, core::Force::no},
                               journal().state());
  }
  core::Status bind_vf() {
    core::BindRequest request{{addr(k_vf1)}, core::Force::no, core::GroupExpansion::named_only};
    auto plan = core::plan_bind(inventory(), request, journal().state(), vfio());
    if (!plan) return core::fail(plan.error());
    return run(plan->actions);
  }
  unsigned vf_count() {
    return core::enabled_vfs(*inventory().find(addr(k_pf)));
  }
  std::size_t vf_entries() { return journal().state().vf_count_entries().size(); }
};

TEST(SriovLifecycle, SetRestoredAfterARebootThenGivenBack) {
  Rig rig;
  ASSERT_EQ(rig.vf_count(), 4u);

  // 4 -> 2: through 0, journaled with what the PF had.
  auto plan = rig.vfs(2);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(core::sysfs_writes(plan->actions.front()).size(), 2u);  // "0", then "2"
  ASSERT_TRUE(rig.run(plan->actions));
  EXPECT_EQ(rig.vf_count(), 2u);
  EXPECT_FALSE(rig.kernel.exists("bus/pci/devices/0000:02:02.2"));
  ASSERT_EQ(rig.vf_entries(), 1u);
  EXPECT_EQ(std::get<core::SetVfCount>(rig.journal().state().vf_count_entries()[0]->action).previous,
            4u);

  // A VF pcipass bound is never destroyed by a count change.
  ASSERT_TRUE(rig.bind_vf());
  EXPECT_EQ(rig.kernel.driver_of(k_vf1), "vfio-pci");
  auto refused = rig.vfs(0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ExitCode::refused);
  EXPECT_NE(refused.error().message.find(std::string(k_vf1) + " (VF of " + k_pf +
                                         "): bound by pcipass; release it first"),
            std::string::npos)
      << refused.error().message;

  // The reboot brings the boot count back (4, all on iavf): restore sets 2
  // again first, then binds the VF it finds.
  rig.kernel.reboot();
  ASSERT_EQ(rig.vf_count(), 4u);
  const core::Plan counts = core::plan_vf_count_restore(rig.inventory(), rig.journal().state());
  EXPECT_TRUE(counts.refused.empty());
  ASSERT_EQ(counts.actions.size(), 1u);
  ASSERT_TRUE(rig.run(counts.actions));
  EXPECT_EQ(rig.vf_count(), 2u);
  const Journal j = rig.journal();
  const auto restore = core::plan_restore(rig.inventory(), j.state(), rig.vfio(), {},
                                          core::RestoreRequest{core::Force::no,
                                                               rig.kernel.sys_root().string()});
  EXPECT_TRUE(restore.refused.empty());
  ASSERT_TRUE(rig.run(restore.plan.actions));
  EXPECT_EQ(rig.kernel.driver_of(k_vf1), "vfio-pci");
  // The earliest count is kept through restore's own entry.
  EXPECT_EQ(std::get<core::SetVfCount>(rig.journal().state().vf_count_entries()[0]->action).previous,
            4u);
  EXPECT_TRUE(core::plan_vf_count_restore(rig.inventory(), rig.journal().state()).actions.empty());

  // release --all: the VF goes back to iavf first, then the PF gets its 4.
  core::ReleaseRequest all;
  all.scope = core::ReleaseScope::all;
  auto release = core::plan_release(rig.inventory(), all, rig.journal().state());
  ASSERT_TRUE(release) << release.error().message;
  const core::Plan undo =
      core::plan_vf_count_undo(rig.inventory(), rig.journal().state(), {addr(k_vf1)});
  EXPECT_TRUE(undo.refused.empty());
  release->actions.insert(release->actions.end(), undo.actions.begin(), undo.actions.end());
  ASSERT_TRUE(rig.run(release->actions));
  EXPECT_EQ(rig.vf_count(), 4u);
  EXPECT_EQ(rig.kernel.driver_of(k_vf1), "iavf");
  EXPECT_EQ(rig.vf_entries(), 0u);
  EXPECT_TRUE(rig.journal().state().empty());
}

TEST(SriovLifecycle, UndoLeavesAPfAloneWhileAVfIsOnVfioOutsideTheRun) {
  Rig rig;
  ASSERT_TRUE(rig.run(rig.vfs(2)->actions));
  ASSERT_TRUE(rig.bind_vf());
  const core::Plan undo = core::plan_vf_count_undo(rig.inventory(), rig.journal().state(), {});
  EXPECT_TRUE(undo.actions.empty());
  ASSERT_EQ(undo.refused.size(), 1u);
  EXPECT_NE(undo.refused.front().find("its VFs cannot be made anew"), std::string::npos)
      << undo.refused.front();
}

TEST(SriovLifecycle, BadCountsAndPfsAreRefusedBeforeAnything) {
  Rig rig;
  auto too_many = rig.vfs(9);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code, core::ExitCode::usage);
  EXPECT_EQ(too_many.error().message, "0000:02:00.0 supports at most 8 VFs, not 9");
  auto not_pf = core::plan_vf_count(rig.inventory(), {addr("0000:03:00.0"), 1, core::Force::no},
                                    rig.journal().state());
  ASSERT_FALSE(not_pf);
  EXPECT_NE(not_pf.error().message.find("is not an SR-IOV physical function"), std::string::npos);
  auto same = rig.vfs(4);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->actions.empty());
  EXPECT_EQ(same->notes, std::vector<std::string>{"0000:02:00.0 has 4 VFs already"});
  ASSERT_TRUE(rig.kernel.write("bus/pci/drivers/i40e/unbind", k_pf));
  auto driverless = rig.vfs(2);
  ASSERT_FALSE(driverless);
  EXPECT_NE(driverless.error().message.find("has no driver"), std::string::npos);
}

// kill -9 at any step of a VF count change (journal writes and sysfs
// writes alike, the "0" before the "2" included) leaves a journal that
// restore finishes and release --all undoes.
TEST(SriovLifecycle, ACrashAtAnyStepIsFinishedByRestoreOrUndoneByRelease) {
  bool finished = false;
  for (int k = 0; !finished && k < 50; ++k) {
    for (const bool undo : {false, true}) {
      SCOPED_TRACE("crash after step " + std::to_string(k) +
                   (undo ? ", then release --all" : ", then restore"));
      Rig rig;
      const auto plan = rig.vfs(2);
      ASSERT_TRUE(plan) << plan.error().message;
      test::CrashSwitch crash;
      rig.kernel.set_crash_switch(&crash);
      rig.os.set_crash_switch(&crash);
      crash.arm(k);
      bool crashed = false;
      try {
        ASSERT_TRUE(rig.run(plan->actions));
      } catch (const test::SimulatedCrash&) {
        crashed = true;
      }
      crash.disarm();
      if (!crashed) finished = true;
      const bool recorded = rig.vf_entries() == 1;
      if (!undo) {
        ASSERT_TRUE(rig.run(core::plan_vf_count_restore(rig.inventory(), rig.journal().state())
                                .actions));
        // Recorded: made whole; not recorded: nothing was written yet.
        EXPECT_EQ(rig.vf_count(), recorded ? 2u : 4u);
        continue;
      }
      const core::Plan back = core::plan_vf_count_undo(rig.inventory(), rig.journal().state(), {});
      EXPECT_TRUE(back.refused.empty());
      ASSERT_TRUE(rig.run(back.actions));
      EXPECT_EQ(rig.vf_count(), 4u);
      EXPECT_EQ(rig.vf_entries(), 0u);
    }
  }
  EXPECT_TRUE(finished) << "the change never ran to the end within 50 steps";
}

}  // namespace
}  // namespace pcipass::host
