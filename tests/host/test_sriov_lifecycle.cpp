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

// Two identical X710 cards that swap slots over a reboot (sriov-twins, 2
// VFs each at boot): the count pcipass set is never given to the card now
// at the PF's address, none of that card's VFs is bound in place of the one
// pcipass bound, and a plan made before the swap is refused when it runs.
TEST(SriovLifecycle, AnIdenticalCardThatTookThePfsAddressGetsNoVfsAndNoBinds) {
  constexpr const char* k_card_pf = "0000:02:00.0";
  constexpr const char* k_card_vf = "0000:02:02.0";
  constexpr const char* k_mine = "3c-fd-fe-ff-ff-a0-00-01";
  constexpr const char* k_twin = "3c-fd-fe-ff-ff-a0-00-02";
  test::HostRig rig("sriov-twins");
  auto set = core::plan_vf_count(rig.inventory(), {addr(k_card_pf), 1, core::Force::no},
                                 rig.journal().state());
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_TRUE(rig.run(set->actions));
  core::BindRequest request{{addr(k_card_vf)}, core::Force::no, core::GroupExpansion::named_only};
  auto bind = core::plan_bind(rig.inventory(), request, rig.journal().state(), rig.vfio());
  ASSERT_TRUE(bind) << bind.error().message;
  ASSERT_TRUE(rig.run(bind->actions));
  const core::BindToVfio bound =
      std::get<core::BindToVfio>(rig.journal().state().bind_entry(addr(k_card_vf))->action);
  EXPECT_EQ(bound.identity.serials(), std::string("DSN ") + k_mine + ", VF 0");

  // The control: a plain reboot gives the same card its VFs again.
  {
    test::HostRig same("sriov-twins");
    ASSERT_TRUE(same.run(core::plan_vf_count(same.inventory(), {addr(k_card_pf), 1, core::Force::no},
                                             same.journal().state())
                             ->actions));
    same.kernel.reboot();
    EXPECT_EQ(core::plan_vf_count_restore(same.inventory(), same.journal().state()).actions.size(),
              1u);
  }

  rig.kernel.reboot_into("sriov-twins-swapped");
  const core::Plan counts = core::plan_vf_count_restore(rig.inventory(), rig.journal().state());
  EXPECT_TRUE(counts.actions.empty());
  ASSERT_EQ(counts.refused.size(), 1u);
  EXPECT_EQ(counts.refused.front(),
            std::string(k_card_pf) + ": is not the card whose VFs pcipass changed (DSN " + k_twin +
                ", not " + k_mine + "): an identical card took its address; it does not get its "
                "1 VF again; the card pcipass changed (DSN " + k_mine + ") is at 0000:03:00.0 now");

  // The card at the address has its boot VFs: its VF 0 sits where
  // pcipass's was, with the same ids, and is still not bound.
  ASSERT_EQ(rig.kernel.driver_of(k_card_vf), "iavf");
  const auto restore = core::plan_restore(
      rig.inventory(), rig.journal().state(), rig.vfio(), {},
      core::RestoreRequest{core::Force::no, rig.kernel.sys_root().string()});
  for (const core::Action& action : restore.plan.actions)
    EXPECT_FALSE(std::holds_alternative<core::BindToVfio>(action)) << core::describe(action);
  ASSERT_EQ(restore.refused.size(), 1u);
  EXPECT_NE(restore.refused.front().find(std::string(k_card_vf) +
                                         ": is not the device pcipass bound there (DSN " + k_twin +
                                         ", not " + k_mine + ")"),
            std::string::npos)
      << restore.refused.front();

  // Plans made before the swap are checked again when they run.
  test::HostRig late("sriov-twins");
  auto count_plan = core::plan_vf_count(late.inventory(), {addr(k_card_pf), 1, core::Force::no},
                                        late.journal().state());
  ASSERT_TRUE(count_plan);
  late.kernel.reboot_into("sriov-twins-swapped");
  const auto refused_count = late.run(count_plan->actions);
  ASSERT_FALSE(refused_count);
  EXPECT_EQ(refused_count.error().code, core::ExitCode::refused);
  EXPECT_NE(refused_count.error().message.find(std::string("setting the VF count of ") + k_card_pf +
                                               ": the device there is now another one (DSN " +
                                               k_twin + ", not " + k_mine + ")"),
            std::string::npos)
      << refused_count.error().message;
  EXPECT_EQ(late.kernel.read(std::string("bus/pci/devices/") + k_card_pf + "/sriov_numvfs").value(),
            "2\n");
  late.kernel.reboot_into("sriov-twins");
  ASSERT_TRUE(late.run(count_plan->actions));
  auto vf_plan = core::plan_bind(late.inventory(), request, late.journal().state(), late.vfio());
  ASSERT_TRUE(vf_plan) << vf_plan.error().message;
  late.kernel.reboot_into("sriov-twins-swapped");
  const auto refused_bind = late.run(vf_plan->actions);
  ASSERT_FALSE(refused_bind);
  EXPECT_NE(refused_bind.error().message.find(std::string("binding ") + k_card_vf +
                                              ": the device there is now another one (DSN " +
                                              k_twin + ", not " + k_mine + ")"),
            std::string::npos)
      << refused_bind.error().message;
  EXPECT_EQ(late.kernel.driver_of(k_card_vf), "iavf");
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
      if (!rig.crashing_after(k, [&] { ASSERT_TRUE(rig.run(plan->actions)); })) finished = true;
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
