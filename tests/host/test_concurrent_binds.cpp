// Binding several IOMMU groups at the same time (Executor::set_concurrent_binds),
// on the simulated kernel with a modelled unbind time: the unbinds overlap,
// the end state and the journal are those of one bind after the other, a
// failure leaves the other groups bound and is reported with them, and a
// kill at any step is finished by a re-run or undone by release.

#include "support/host_rig.hpp"

#include <pcipass/host/executor.hpp>
#include <pcipass/host/journal.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

namespace pcipass::host {
namespace {

using core::Force;
using core::GroupExpansion;
using test::HostRig;

// workstation: three groups with a driver each (the GPU's group has two functions).
constexpr const char* k_zns = "0000:02:00.0";   // nvme, group 9
constexpr const char* k_usb = "0000:06:00.0";   // xhci_hcd, group 14
constexpr const char* k_gpu = "0000:2d:00.0";   // amdgpu, group 15 (boot VGA: --force)
constexpr const char* k_hdmi = "0000:2d:00.1";  // snd_hda_intel, group 15
const std::vector<const char*> k_all{k_zns, k_usb, k_gpu, k_hdmi};

core::PciAddress addr(const char* text) {
  return core::PciAddress::parse(text).value();
}

// Every device's driver and override, and the journal's entries as text:
// what a run leaves behind, to compare two runs by.
std::string end_state(HostRig& rig) {
  std::string out;
  for (const char* a : k_all) {
    out += std::string(a) + " " + rig.kernel.driver_of(a) + " " + rig.kernel.override_of(a) + "\n";
  }
  const Journal journal = rig.journal();
  for (const core::JournalEntry& e : journal.state().entries()) {
    out += core::describe(e.action) + " " + core::to_string(e.state) + "\n";
  }
  return out;
}

TEST(ConcurrentBinds, TheEndStateIsThatOfOneAfterTheOther) {
  HostRig one_by_one("workstation");
  ASSERT_TRUE(one_by_one.bind({k_zns, k_usb, k_hdmi}, Force::yes));
  HostRig together("workstation");
  together.concurrent_binds = k_concurrent_binds;
  auto bound = together.bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_TRUE(bound) << bound.error().message;
  EXPECT_EQ(end_state(together), end_state(one_by_one));
  for (const char* a : k_all) EXPECT_EQ(together.kernel.driver_of(a), "vfio-pci") << a;
  for (unsigned group : {9u, 14u, 15u}) EXPECT_TRUE(together.vfio_node(group)) << group;
  ASSERT_TRUE(together.release_all());
  for (const char* a : k_all) EXPECT_NE(together.kernel.driver_of(a), "vfio-pci") << a;
  EXPECT_TRUE(together.journal().state().empty());
}

TEST(ConcurrentBinds, ActionsAreShownInPlanOrder) {
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  const core::Plan plan = rig.plan_bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_TRUE(rig.run(plan));
  EXPECT_EQ(rig.attempted, plan.actions);
}

TEST(ConcurrentBinds, UnbindsOverlapAndTheGroupsFunctionsStayInOrder) {
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  // Each unbind waits until three have arrived (5 s at most): one after
  // the other, the first would wait alone.
  rig.kernel.set_unbind_barrier(3);
  ASSERT_TRUE(rig.bind({k_zns, k_usb, k_hdmi}, Force::yes));
  // Three groups, each one thread: their unbinds were in flight together.
  EXPECT_EQ(rig.kernel.most_unbinds_at_once(), 3u);
  // Within group 15 the GPU's writes all come before its audio function's.
  std::vector<std::string> gpu_group;
  for (const std::string& w : rig.kernel.writes()) {
    if (w.find("2d:00.") != std::string::npos) gpu_group.push_back(w);
  }
  ASSERT_EQ(gpu_group.size(), 6u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NE(gpu_group[i].find(k_gpu), std::string::npos) << i;
  for (std::size_t i = 3; i < 6; ++i) EXPECT_NE(gpu_group[i].find(k_hdmi), std::string::npos) << i;
}

TEST(ConcurrentBinds, OneThreadForAllIsOneAfterTheOther) {
  HostRig rig("workstation");
  rig.concurrent_binds = 1;
  for (const char* driver : {"nvme", "xhci_hcd"})
    rig.kernel.set_unbind_time(driver, std::chrono::milliseconds(50));
  ASSERT_TRUE(rig.bind({k_zns, k_usb}));
  EXPECT_EQ(rig.kernel.most_unbinds_at_once(), 1u);
}

TEST(ConcurrentBinds, AFailedGroupIsReportedAndEveryOtherDeviceIsBoundOrUntouched) {
  // bind (KeepGoing::no): after the failure nothing more starts; what had
  // started is finished. Which of the others had started depends on the
  // threads, so each is either bound (journaled done) or untouched.
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  rig.kernel.fail_write("bus/pci/drivers/xhci_hcd/unbind", EIO);
  auto result = rig.bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::host_error);
  EXPECT_EQ(result.error().message, "binding 0000:06:00.0 to vfio-pci: writing " +
                                        rig.kernel.display_path("bus/pci/drivers/xhci_hcd/unbind") +
                                        ": " + std::strerror(EIO));
  EXPECT_EQ(rig.kernel.driver_of(k_usb), "xhci_hcd");
  const Journal journal = rig.journal();
  EXPECT_EQ(journal.state().bind_entry(addr(k_usb))->state, core::EntryState::failed);
  for (const char* a : {k_zns, k_gpu, k_hdmi}) {
    const core::JournalEntry* entry = journal.state().bind_entry(addr(a));
    ASSERT_NE(entry, nullptr) << a;
    if (rig.kernel.driver_of(a) == "vfio-pci") {
      EXPECT_EQ(entry->state, core::EntryState::done) << a;
    } else {
      EXPECT_EQ(rig.kernel.override_of(a), "") << a;
      EXPECT_EQ(entry->state, core::EntryState::failed) << a;
      EXPECT_EQ(entry->error, "not attempted: another bind of this run failed first") << a;
    }
  }
  rig.kernel.clear_failures();
  ASSERT_TRUE(rig.release_all());
  for (const char* a : k_all) EXPECT_NE(rig.kernel.driver_of(a), "vfio-pci") << a;
}

TEST(ConcurrentBinds, WithKeepGoingEveryOtherGroupIsBound) {
  // restore (KeepGoing::yes): one failed group keeps no other from its guest.
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  rig.keep_going = KeepGoing::yes;
  rig.kernel.fail_write("bus/pci/drivers/xhci_hcd/unbind", EIO);
  ASSERT_FALSE(rig.bind({k_zns, k_usb, k_hdmi}, Force::yes));
  EXPECT_EQ(rig.kernel.driver_of(k_usb), "xhci_hcd");
  for (const char* a : {k_zns, k_gpu, k_hdmi}) EXPECT_EQ(rig.kernel.driver_of(a), "vfio-pci") << a;
}

TEST(ConcurrentBinds, LaterGroupsAreJournaledWhenAThreadTakesThem) {
  // Two threads for three groups: the third is journaled when taken.
  HostRig one_by_one("workstation");
  ASSERT_TRUE(one_by_one.bind({k_zns, k_usb, k_hdmi}, Force::yes));
  HostRig two("workstation");
  two.concurrent_binds = 2;
  auto bound = two.bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_TRUE(bound) << bound.error().message;
  EXPECT_EQ(end_state(two), end_state(one_by_one));
}

TEST(ConcurrentBinds, ACardSwappedWhileAnotherUnbindsIsRefusedUntouched) {
  // Checked in plan order first; while the GPU's driver lets it go, another
  // card takes its audio function's place. The audio function is checked
  // again just before its first write, and refused.
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  rig.kernel.set_unbind_barrier(2);  // the NVMe drive's bind has started by then
  rig.kernel.set_unbind_hook([&](const std::string& address) {
    if (address == k_gpu) rig.kernel.set_ids(k_hdmi, 0x1234, 0x5678);
  });
  auto result = rig.bind({k_zns, k_hdmi}, Force::yes);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::refused);
  EXPECT_NE(result.error().message.find("binding 0000:2d:00.1: the device there is now 1234:5678"),
            std::string::npos)
      << result.error().message;
  EXPECT_EQ(rig.kernel.driver_of(k_hdmi), "snd_hda_intel");
  EXPECT_EQ(rig.kernel.override_of(k_hdmi), "");
  for (const std::string& w : rig.kernel.writes())
    EXPECT_EQ(w.find(k_hdmi), std::string::npos) << w;
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_EQ(rig.journal().state().bind_entry(addr(k_hdmi))->state, core::EntryState::failed);
}

TEST(ConcurrentBinds, AJournalThatCannotBeWrittenStopsBeforeAnyDeviceIsTouched) {
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  rig.os.fail_write(rig.state() / "journal.json", ENOSPC);
  auto result = rig.bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("recording the binds of 3 IOMMU groups in the journal"),
            std::string::npos)
      << result.error().message;
  EXPECT_TRUE(rig.kernel.writes().empty());
}

TEST(ConcurrentBinds, EveryFailureComesBackInPlanOrder) {
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  rig.keep_going = KeepGoing::yes;  // both failures happen, whichever comes first
  rig.kernel.fail_write("bus/pci/drivers/xhci_hcd/unbind", EIO);
  rig.kernel.fail_write("bus/pci/drivers/nvme/unbind", EACCES);
  auto result = rig.bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "2 steps failed:\n  binding 0000:02:00.0 to vfio-pci: writing " +
                rig.kernel.display_path("bus/pci/drivers/nvme/unbind") + ": " +
                std::strerror(EACCES) + "\n  binding 0000:06:00.0 to vfio-pci: writing " +
                rig.kernel.display_path("bus/pci/drivers/xhci_hcd/unbind") + ": " +
                std::strerror(EIO));
  for (const char* a : {k_gpu, k_hdmi}) EXPECT_EQ(rig.kernel.driver_of(a), "vfio-pci") << a;
}

TEST(ConcurrentBinds, ARefusalStopsTheBindsPlannedAfterIt) {
  // As one after the other: the binds before the refused one are made, the
  // ones after it are neither made nor journaled.
  HostRig rig("workstation");
  rig.concurrent_binds = k_concurrent_binds;
  const core::Plan plan = rig.plan_bind({k_zns, k_usb, k_hdmi}, Force::yes);
  ASSERT_TRUE(rig.kernel.write("bus/pci/drivers/xhci_hcd/unbind", k_usb));  // changed since planned
  auto result = rig.run(plan);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ExitCode::refused);
  EXPECT_EQ(rig.kernel.driver_of(k_zns), "vfio-pci");
  EXPECT_EQ(rig.kernel.driver_of(k_gpu), "amdgpu");
  EXPECT_EQ(rig.journal().state().bind_entry(addr(k_gpu)), nullptr);
  EXPECT_EQ(rig.journal().state().bind_entry(addr(k_usb)), nullptr);
}

// kill -9 between any two steps of a concurrent bind: release --all
// afterwards brings every device back, and a re-run finishes the bind.
// With two threads the third group is journaled by a thread, not up front.
class ConcurrentCrash : public ::testing::TestWithParam<unsigned> {};

TEST_P(ConcurrentCrash, ACrashAtAnyStepIsFinishedOrUndone) {
  HostRig probe("workstation");
  std::map<std::string, std::string> original;
  for (const char* a : k_all) original[a] = probe.kernel.driver_of(a);
  bool finished = false;
  for (int k = 0; !finished && k < 100; ++k) {
    for (bool rerun_first : {false, true}) {
      SCOPED_TRACE("crash after step " + std::to_string(k) + (rerun_first ? ", re-run" : ""));
      HostRig rig("workstation");
      rig.concurrent_binds = GetParam();
      const core::Plan plan = rig.plan_bind({k_zns, k_usb, k_hdmi}, Force::yes);
      if (!rig.crashing_after(k, [&] { ASSERT_TRUE(rig.run(plan)); })) finished = true;
      if (rerun_first) {
        auto rerun = rig.bind({k_zns, k_usb, k_hdmi}, Force::yes);
        ASSERT_TRUE(rerun) << rerun.error().message;
        for (const char* a : k_all) EXPECT_EQ(rig.kernel.driver_of(a), "vfio-pci") << a;
        const Journal journal = rig.journal();
        for (const char* a : k_all) {
          const core::JournalEntry* entry = journal.state().bind_entry(addr(a));
          ASSERT_NE(entry, nullptr) << a;
          EXPECT_EQ(std::get<core::BindToVfio>(entry->action).restore_driver, original[a]) << a;
        }
      }
      auto release = rig.release_all();
      ASSERT_TRUE(release) << release.error().message;
      for (const char* a : k_all) {
        EXPECT_EQ(rig.kernel.driver_of(a), original[a]) << a;
        EXPECT_EQ(rig.kernel.override_of(a), "") << a;
      }
      const Journal after = rig.journal();
      for (const core::JournalEntry& e : after.state().entries()) {
        EXPECT_TRUE(std::holds_alternative<core::LoadModule>(e.action)) << core::describe(e.action);
      }
    }
  }
  EXPECT_TRUE(finished) << "the run never completed";
}

INSTANTIATE_TEST_SUITE_P(Threads, ConcurrentCrash, ::testing::Values(2u, k_concurrent_binds));

}  // namespace
}  // namespace pcipass::host
