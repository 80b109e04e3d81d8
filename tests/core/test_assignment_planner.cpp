// plan_assignment: the four techniques, whole IOMMU groups, the checks that
// catch a changed host, and every problem reported in one refusal.

#include <pcipass/core/assignment_planner.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using test::addr;
using test::device;

// A bridge, the boot disk, two free ZNS drives, a NIC, and a GPU with its
// audio function in one group.
Inventory lab() {
  Inventory inventory;
  inventory.add(device("0000:00:01.1", 0x1022, 0x1483, 0x060400, "pcieport", 2));
  PciDevice boot = device("0000:01:00.0", 0x144d, 0xa80a, 0x010802, "nvme", 8);
  boot.host_uses = {"backs / (ext4 on /dev/nvme0n1p2)"};
  inventory.add(boot);
  inventory.add(device("0000:2d:00.0", 0x1b96, 0x2600, 0x010802, "nvme", 14));
  inventory.add(device("0000:2e:00.0", 0x1b96, 0x2600, 0x010802, "nvme", 15));
  inventory.add(device("0000:05:00.0", 0x8086, 0x1533, 0x020000, "igb", 16));
  PciDevice gpu = device("0000:0b:00.0", 0x10de, 0x2484, 0x030000, "nouveau", 20);
  gpu.human_name = "GeForce RTX 3070";
  inventory.add(gpu);
  PciDevice audio = device("0000:0b:00.1", 0x10de, 0x228b, 0x040300, "snd_hda_intel", 20);
  audio.human_name = "GA104 High Definition Audio Controller";
  inventory.add(audio);
  inventory.rebuild_groups();
  return inventory;
}

RequestedDevice want(const char* address, std::string guest = "") {
  RequestedDevice d;
  d.address = addr(address);
  d.target_guest = std::move(guest);
  return d;
}

AssignmentRequest request(PassthroughTechnique technique, std::vector<RequestedDevice> devices,
                          std::vector<std::string> guests = {"xfs", "btrfs", "ext4"}) {
  AssignmentRequest r;
  r.technique = technique;
  r.devices = std::move(devices);
  r.guests = std::move(guests);
  return r;
}

// "guest: addr addr; guest: addr" for compact expectations.
std::string summary(const Assignment& plan) {
  std::string out;
  for (const GuestAssignment& guest : plan.guests) {
    if (!out.empty()) out += "; ";
    out += guest.guest + ":";
    for (const AssignedDevice& d : guest.devices) out += " " + d.address.to_string();
  }
  return out;
}

TEST(PlanAssignment, FirstPutsEveryDeviceOnTheFirstGuest) {
  auto plan = plan_assignment(
      lab(), request(PassthroughTechnique::first, {want("0000:2e:00.0"), want("0000:2d:00.0")}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "xfs: 0000:2d:00.0 0000:2e:00.0");
  EXPECT_EQ(plan->guests[0].devices[0].ids, (DeviceIds{0x1b96, 0x2600}));
  EXPECT_EQ(plan->guests[0].devices[0].iommu_group, 14u);
}

TEST(PlanAssignment, SpecificUsesTheNamedGuest) {
  auto r = request(PassthroughTechnique::specific, {want("0000:2d:00.0"), want("0000:05:00.0")});
  r.specific_guest = "btrfs";
  auto plan = plan_assignment(lab(), r);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "btrfs: 0000:05:00.0 0000:2d:00.0");
}

TEST(PlanAssignment, SpecificWithoutGuestListTrustsTheName) {
  auto r = request(PassthroughTechnique::specific, {want("0000:2d:00.0")}, {});
  r.specific_guest = "anything";
  auto plan = plan_assignment(lab(), r);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "anything: 0000:2d:00.0");
}

TEST(PlanAssignment, EachFollowsTheTargetsInGuestListOrder) {
  auto plan =
      plan_assignment(lab(), request(PassthroughTechnique::each,
                                     {want("0000:2d:00.0", "ext4"), want("0000:2e:00.0", "xfs"),
                                      want("0000:05:00.0", "ext4")}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "xfs: 0000:2e:00.0; ext4: 0000:05:00.0 0000:2d:00.0");
}

TEST(PlanAssignment, RoundRobinDealsGroupsNotFunctions) {
  auto r = request(PassthroughTechnique::roundrobin,
                   {want("0000:2d:00.0"), want("0000:0b:00.0"), want("0000:0b:00.1"),
                    want("0000:2e:00.0"), want("0000:05:00.0")},
                   {"a", "b"});
  auto plan = plan_assignment(lab(), r);
  ASSERT_TRUE(plan) << plan.error().message;
  // Group 14 -> a, group 20 (both GPU functions) -> b, 15 -> a, 16 -> b.
  EXPECT_EQ(summary(*plan),
            "a: 0000:2d:00.0 0000:2e:00.0; b: 0000:05:00.0 0000:0b:00.0 0000:0b:00.1");
}

TEST(PlanAssignment, IncompleteGroupIsRefusedWithItsMissingMembers) {
  auto plan = plan_assignment(lab(), request(PassthroughTechnique::first, {want("0000:0b:00.0")}));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ExitCode::refused);
  EXPECT_EQ(plan.error().message,
            "refusing to assign the devices:\n"
            "  IOMMU group 20 of 0000:0b:00.0 also holds 0000:0b:00.1 (GA104 High Definition "
            "Audio Controller); select every endpoint of the group, or use --whole-groups");
}

TEST(PlanAssignment, WholeGroupsAddsTheMissingMembersToTheSameGuest) {
  auto r = request(PassthroughTechnique::each, {want("0000:0b:00.0", "btrfs")});
  r.completion = GroupCompletion::add_members;
  auto plan = plan_assignment(lab(), r);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "btrfs: 0000:0b:00.0 0000:0b:00.1");
  EXPECT_FALSE(plan->guests[0].devices[0].added_for_group);
  EXPECT_TRUE(plan->guests[0].devices[1].added_for_group);
  EXPECT_EQ(plan->guests[0].devices[1].name, "GA104 High Definition Audio Controller");
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_NE(plan->notes[0].find("added 0000:0b:00.1"), std::string::npos);
}

TEST(PlanAssignment, SplitGroupIsRefusedEvenWithWholeGroups) {
  auto r = request(PassthroughTechnique::each,
                   {want("0000:0b:00.0", "xfs"), want("0000:0b:00.1", "btrfs")});
  r.completion = GroupCompletion::add_members;
  auto plan = plan_assignment(lab(), r);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("IOMMU group 20 is split between guests (0000:0b:00.0 to "
                                      "'xfs', 0000:0b:00.1 to 'btrfs')"),
            std::string::npos)
      << plan.error().message;
}

TEST(PlanAssignment, ChangedDeviceAtTheSelectedAddressIsCaught) {
  RequestedDevice d = want("0000:2d:00.0");
  d.expected = DeviceIds{0x144d, 0xa80a};  // what was there when the menu was made
  auto plan = plan_assignment(lab(), request(PassthroughTechnique::first, {d}));
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("0000:2d:00.0: selected as 144d:a80a, but the device there "
                                      "is 1b96:2600 now"),
            std::string::npos)
      << plan.error().message;
}

TEST(PlanAssignment, MovedGroupNumberIsOnlyANote) {
  RequestedDevice d = want("0000:2d:00.0");
  d.expected = DeviceIds{0x1b96, 0x2600};
  d.expected_group = 3;
  auto plan = plan_assignment(lab(), request(PassthroughTechnique::first, {d}));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_EQ(plan->notes[0], "0000:2d:00.0 was in IOMMU group 3 when selected; it is in 14 now");
}

TEST(PlanAssignment, HostDevicesNeedForce) {
  auto r = request(PassthroughTechnique::first, {want("0000:01:00.0")});
  auto refused = plan_assignment(lab(), r);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("0000:01:00.0: used by the host: backs / (ext4 on "
                                         "/dev/nvme0n1p2) (--force assigns it anyway)"),
            std::string::npos);
  r.force = Force::yes;
  auto forced = plan_assignment(lab(), r);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_TRUE(forced->guests[0].devices[0].host_in_use);
  ASSERT_EQ(forced->notes.size(), 1u);
  EXPECT_NE(forced->notes[0].find("--force"), std::string::npos);
}

TEST(PlanAssignment, EveryProblemIsReportedAtOnce) {
  auto plan = plan_assignment(
      lab(), request(PassthroughTechnique::each,
                     {want("0000:00:01.1", "xfs"), want("0000:42:00.0", "xfs"),
                      want("0000:2d:00.0", "nosuchguest"), want("0000:2e:00.0", "xfs"),
                      want("0000:2e:00.0", "btrfs"), want("0000:05:00.0")}));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "refusing to assign the devices:\n"
            "  0000:00:01.1: is a bridge; bridges and host bridges stay with the host\n"
            "  0000:42:00.0: no such PCI device on this host\n"
            "  0000:2d:00.0: guest 'nosuchguest' is not one of the guests (xfs, btrfs, ext4)\n"
            "  0000:2e:00.0: asked for by guests 'xfs' and 'btrfs'; a device goes to one guest "
            "only\n"
            "  0000:05:00.0: no target guest (technique each)");
}

TEST(PlanAssignment, TechniquesThatNeedGuestsSaySo) {
  auto first =
      plan_assignment(lab(), request(PassthroughTechnique::first, {want("0000:2d:00.0")}, {}));
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("technique first needs the list of guests"),
            std::string::npos);
  auto specific = plan_assignment(lab(), request(PassthroughTechnique::specific, {}, {}));
  ASSERT_FALSE(specific);
  EXPECT_NE(specific.error().message.find("technique specific needs the name of its guest"),
            std::string::npos);
}

TEST(PlanAssignment, NoIommuGroupIsRefused) {
  Inventory inventory;
  PciDevice d = device("0000:2d:00.0", 0x1b96, 0x2600, 0x010802, "nvme", 0);
  d.iommu_group.reset();
  inventory.add(d);
  inventory.rebuild_groups();
  auto plan =
      plan_assignment(inventory, request(PassthroughTechnique::first, {want("0000:2d:00.0")}));
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("has no IOMMU group"), std::string::npos);
}

TEST(PlanAssignment, DuplicateRequestForTheSameGuestIsOneDevice) {
  auto plan = plan_assignment(
      lab(), request(PassthroughTechnique::first, {want("0000:2d:00.0"), want("0000:2d:00.0")}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "xfs: 0000:2d:00.0");
  EXPECT_EQ(plan->all_devices().size(), 1u);
}

TEST(PlanAssignment, GuestNamesThatCouldBePathsOrMarkupAreRefused) {
  EXPECT_TRUE(is_valid_guest_name("kdevops-xfs.2_a"));
  EXPECT_FALSE(is_valid_guest_name(""));
  EXPECT_FALSE(is_valid_guest_name("../etc"));
  EXPECT_FALSE(is_valid_guest_name(".hidden"));
  EXPECT_FALSE(is_valid_guest_name("a/b"));
  EXPECT_FALSE(is_valid_guest_name("a b"));
  EXPECT_FALSE(is_valid_guest_name(std::string(64, 'a')));
  EXPECT_TRUE(is_valid_guest_name(std::string(63, 'a')));
  auto plan = plan_assignment(
      lab(), request(PassthroughTechnique::each, {want("0000:2d:00.0", "../../etc/x\n")},
                     {"ok", "bad\x1b[2J"}));
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "refusing to assign the devices:\n"
            "  guest name 'bad\\x1b[2J' is not a guest name (letters, digits, '.', '_' and '-', "
            "at most 63)\n"
            "  0000:2d:00.0: guest name '../../etc/x\\x0a' is not a guest name (letters, digits, "
            "'.', '_' and '-', at most 63)");
}

TEST(RequestFromConfig, CarriesTechniqueIdsAndTargets) {
  PassthroughChoices choices;
  choices.enabled = true;
  choices.technique = PassthroughTechnique::specific;
  choices.target_hostname = "kdevops-xfs";
  SelectedDevice selected;
  selected.number = 1;
  selected.address = addr("0000:2d:00.0");
  selected.vendor_id = 0x1b96;
  selected.device_id = 0x2600;
  selected.iommu_group = 14;
  selected.name = "ZN540";
  selected.target_guest = "kdevops-xfs";
  choices.devices.push_back(selected);
  const AssignmentRequest r = request_from_config(choices);
  EXPECT_EQ(r.technique, PassthroughTechnique::specific);
  EXPECT_EQ(r.specific_guest, "kdevops-xfs");
  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].expected, (DeviceIds{0x1b96, 0x2600}));
  EXPECT_EQ(r.devices[0].expected_group, 14u);
  EXPECT_EQ(r.devices[0].name, "ZN540");
}

TEST(RequestFromNodes, EachGuestGetsItsEntries) {
  std::vector<GuestNode> nodes{{"xfs", {{"zns1", addr("0000:2d:00.0")}}}, {"btrfs", {}}};
  const AssignmentRequest r = request_from_nodes(nodes);
  EXPECT_EQ(r.technique, PassthroughTechnique::each);
  EXPECT_EQ(r.guests, (std::vector<std::string>{"xfs", "btrfs"}));
  auto plan = plan_assignment(lab(), r);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(summary(*plan), "xfs: 0000:2d:00.0");
  EXPECT_EQ(plan->guests[0].devices[0].label, "zns1");
}

}  // namespace
}  // namespace pcipass::core
