// plan_bind and plan_release: refusals listed whole, group expansion, and
// the journal's restore drivers winning over what sysfs shows mid-way.

#include <pcipass/core/bind_planner.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using test::addr;
using test::device;

// A small workstation: a bridge, the boot disk, a free disk, a GPU (boot VGA)
// and its audio in one group.
Inventory workstation() {
  Inventory inventory;
  inventory.add(device("0000:00:01.1", 0x1022, 0x1483, 0x060400, "pcieport", 2));
  PciDevice boot = device("0000:01:00.0", 0x144d, 0xa80a, 0x010802, "nvme", 8);
  boot.host_uses = {"backs / (ext4 on /dev/nvme0n1p2)", "swap on /dev/nvme0n1p3"};
  inventory.add(boot);
  inventory.add(device("0000:02:00.0", 0x1b96, 0x2600, 0x010802, "nvme", 9));
  PciDevice gpu = device("0000:2d:00.0", 0x1002, 0x73ff, 0x030000, "amdgpu", 15);
  gpu.host_uses = {"boot VGA device"};
  inventory.add(gpu);
  inventory.add(device("0000:2d:00.1", 0x1002, 0xab28, 0x040300, "snd_hda_intel", 15));
  inventory.rebuild_groups();
  return inventory;
}

BindRequest request(std::vector<const char*> devices, Force force = Force::no,
                    GroupExpansion expansion = GroupExpansion::whole_groups) {
  BindRequest r;
  for (const char* d : devices) r.devices.push_back(addr(d));
  r.force = force;
  r.expansion = expansion;
  return r;
}

TEST(PlanBind, OneFreeDevice) {
  auto plan =
      plan_bind(workstation(), request({"0000:02:00.0"}), JournalState{}, VfioModule::loaded);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(std::get<BindToVfio>(plan->actions[0]),
            (BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9}));
  EXPECT_TRUE(plan->notes.empty());
}

TEST(PlanBind, LoadsTheModuleFirstWhenMissing) {
  auto plan =
      plan_bind(workstation(), request({"0000:02:00.0"}), JournalState{}, VfioModule::missing);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->actions.size(), 2u);
  EXPECT_EQ(std::get<LoadModule>(plan->actions[0]).name, "vfio_pci");
}

TEST(PlanBind, RefusesEveryProblemAtOnce) {
  auto plan = plan_bind(workstation(),
                        request({"0000:00:01.1", "0000:01:00.0", "0000:2d:00.1", "0000:42:00.0"}),
                        JournalState{}, VfioModule::loaded);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ExitCode::refused);
  EXPECT_EQ(
      plan.error().message,
      "refusing to bind:\n"
      "  0000:00:01.1: is a bridge; bridges and host bridges stay with the host\n"
      "  0000:42:00.0: no such PCI device on this host\n"
      "  0000:01:00.0: used by the host: backs / (ext4 on /dev/nvme0n1p2); swap on /dev/nvme0n1p3 "
      "(--force binds it anyway)\n"
      "  0000:2d:00.0 (IOMMU group 15, added with 0000:2d:00.1): used by the host: boot VGA device "
      "(--force binds it anyway; --exact leaves group members alone)");
}

TEST(PlanBind, ExpandsToTheWholeGroupAndSaysSo) {
  auto plan = plan_bind(workstation(), request({"0000:2d:00.1"}, Force::yes), JournalState{},
                        VfioModule::loaded);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->actions.size(), 2u);
  EXPECT_EQ(std::get<BindToVfio>(plan->actions[0]).address, addr("0000:2d:00.0"));
  EXPECT_EQ(std::get<BindToVfio>(plan->actions[1]).address, addr("0000:2d:00.1"));
  EXPECT_EQ(plan->notes,
            (std::vector<std::string>{
                "0000:2d:00.0 is used by the host (boot VGA device); binding it anyway (--force)",
                "added 0000:2d:00.0 (IOMMU group 15, added with 0000:2d:00.1): a guest needs its "
                "whole IOMMU group",
            }));
}

TEST(PlanBind, ExactBindsOnlyTheNamedFunction) {
  auto plan =
      plan_bind(workstation(), request({"0000:2d:00.1"}, Force::no, GroupExpansion::named_only),
                JournalState{}, VfioModule::loaded);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(std::get<BindToVfio>(plan->actions[0]).address, addr("0000:2d:00.1"));
}

TEST(PlanBind, NoIommuGroupIsRefused) {
  Inventory inventory;
  PciDevice d = device("0000:00:04.0", 0x1af4, 0x1042, 0x010000, "virtio-pci", 0);
  d.iommu_group.reset();
  inventory.add(d);
  inventory.rebuild_groups();
  auto plan = plan_bind(inventory, request({"0000:00:04.0"}), JournalState{}, VfioModule::loaded);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "refusing to bind:\n  0000:00:04.0: has no IOMMU group (the IOMMU is missing or "
            "disabled; see "
            "pcipass groups)");
}

TEST(PlanBind, ADriverNameNoKernelGivesIsRefused) {
  // A simulated tree's driver link named "nv\nme" reads as "nv me" once
  // sanitised: the dry run used to show the cleaned path and the real run
  // refused with "driver changed since planning". Both refuse now.
  Inventory inventory = workstation();
  PciDevice odd = device("0000:03:00.0", 0x1b96, 0x2600, 0x010802, "nv me", 10);
  inventory.add(odd);
  inventory.rebuild_groups();
  auto plan = plan_bind(inventory, request({"0000:03:00.0"}), JournalState{}, VfioModule::loaded);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "refusing to bind:\n  0000:03:00.0: its driver is named 'nv me', which no kernel "
            "driver is; not touching it");
  EXPECT_TRUE(plan_bind(workstation(), request({"0000:2d:00.1"}, Force::yes), JournalState{},
                        VfioModule::loaded));  // snd_hda_intel, amdgpu
}

TEST(PlanBind, AnInterruptedRunKeepsTheJournaledDriverToRestore) {
  // A crash left the device unbound; the journal still knows it was on nvme.
  Inventory inventory = workstation();
  inventory.find(addr("0000:02:00.0"))->driver = "";
  JournalState journal;
  journal.begin(BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9});
  auto plan = plan_bind(inventory, request({"0000:02:00.0"}), journal, VfioModule::loaded);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(std::get<BindToVfio>(plan->actions[0]),
            (BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "", "nvme", 9}));
}

TEST(PlanRelease, RefusesWhatPcipassDidNotBindOrNoLongerRecognises) {
  Inventory inventory = workstation();
  JournalState journal;
  journal.finish(journal.begin(
      BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x9999}, "nvme", "nvme", 9}));
  journal.finish(journal.begin(BindToVfio{addr("0000:2d:00.1"), DeviceIds{0x1002, 0xab28},
                                          "snd_hda_intel", "snd_hda_intel", 15}));
  inventory.find(addr("0000:2d:00.1"))->driver = "pci-stub";
  ReleaseRequest r;
  r.devices = {addr("0000:02:00.0"), addr("0000:01:00.0"), addr("0000:2d:00.1")};
  auto plan = plan_release(inventory, r, journal);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ExitCode::refused);
  EXPECT_EQ(plan.error().message,
            "refusing to release:\n"
            "  0000:01:00.0: not bound by pcipass (the journal has no record of it)\n"
            "  0000:02:00.0: is now 1b96:2600, but pcipass bound 1b96:9999 there; not touching it\n"
            "  0000:2d:00.1: is on pci-stub, a driver pcipass did not put it on; unbind it first, "
            "then release "
            "again");
}

TEST(PlanRelease, ADeviceThatLeftTheHostIsForgotten) {
  // Named or with --all: there is no driver to give it back to, and a
  // refusal would keep it in the journal (and --all from undoing the rest).
  Inventory inventory = workstation();
  inventory.find(addr("0000:02:00.0"))->driver = "vfio-pci";
  JournalState journal;
  journal.finish(journal.begin(
      BindToVfio{addr("0000:41:00.3"), DeviceIds{0x8086, 0x1889}, "iavf", "iavf", 40}));
  journal.finish(journal.begin(
      BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9}));
  for (const ReleaseScope scope : {ReleaseScope::named, ReleaseScope::all}) {
    ReleaseRequest r;
    r.scope = scope;
    r.devices = {addr("0000:41:00.3"), addr("0000:02:00.0")};
    auto plan = plan_release(inventory, r, journal);
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_EQ(plan->actions,
              (std::vector<Action>{
                  ForgetDevice{addr("0000:41:00.3"), DeviceIds{0x8086, 0x1889}},
                  ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci",
                                "nvme"}}));
  }
}

TEST(PlanRelease, AllGivesBackWhatItCanAndListsTheRest) {
  // One entry whose device changed ids made release --all refuse everything.
  Inventory inventory = workstation();
  inventory.find(addr("0000:02:00.0"))->driver = "vfio-pci";
  inventory.find(addr("0000:2d:00.1"))->driver = "vfio-pci";
  JournalState journal;
  journal.finish(journal.begin(
      BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x9999}, "nvme", "nvme", 9}));
  journal.finish(journal.begin(BindToVfio{addr("0000:2d:00.1"), DeviceIds{0x1002, 0xab28},
                                          "snd_hda_intel", "snd_hda_intel", 15}));
  ReleaseRequest r;
  r.scope = ReleaseScope::all;
  auto plan = plan_release(inventory, r, journal);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->actions, (std::vector<Action>{ReleaseDevice{addr("0000:2d:00.1"),
                                                              DeviceIds{0x1002, 0xab28},
                                                              "vfio-pci", "snd_hda_intel"}}));
  EXPECT_EQ(plan->refused,
            std::vector<std::string>{
                "0000:02:00.0: is now 1b96:2600, but pcipass bound 1b96:9999 there; not touching "
                "it (pcipass release --forget 0000:02:00.0 drops it from the journal once you "
                "have checked it by hand)"});

  // --forget drops that entry, present or not, and nothing else.
  ReleaseRequest forget;
  forget.devices = {addr("0000:02:00.0"), addr("0000:02:00.0")};
  auto dropped = plan_forget(forget, journal);
  ASSERT_TRUE(dropped) << dropped.error().message;
  EXPECT_EQ(dropped->actions,
            (std::vector<Action>{ForgetDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x9999},
                                              Presence::may_be_here}}));
  forget.devices = {addr("0000:06:00.0")};
  EXPECT_EQ(plan_forget(forget, journal).error().message,
            "refusing to forget:\n  0000:06:00.0: not bound by pcipass (the journal has no "
            "record of it)");
}

TEST(PlanRelease, AllReleasesEveryJournaledDevice) {
  Inventory inventory = workstation();
  inventory.find(addr("0000:02:00.0"))->driver = "vfio-pci";
  JournalState journal;
  journal.finish(journal.begin(
      BindToVfio{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "nvme", "nvme", 9}));
  ReleaseRequest r;
  r.scope = ReleaseScope::all;
  auto plan = plan_release(inventory, r, journal);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(std::get<ReleaseDevice>(plan->actions[0]),
            (ReleaseDevice{addr("0000:02:00.0"), DeviceIds{0x1b96, 0x2600}, "vfio-pci", "nvme"}));
  auto empty = plan_release(inventory, r, JournalState{});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->notes,
            std::vector<std::string>{"nothing to release: pcipass has bound no device"});
}

}  // namespace
}  // namespace pcipass::core
