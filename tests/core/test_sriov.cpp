// SR-IOV: a PF with VFs enabled is never unbound (its driver would remove
// the VFs), a PF and its VFs never go to two guests, and listings say which
// VFs belong to which PF.

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/restore_planner.hpp>
#include <pcipass/core/sriov.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

using test::addr;
using test::device;

// An i40e PF at 01:00.0 with `vfs` VFs on iavf, each in its own group.
Inventory nic(unsigned vfs, const char* pf_driver = "i40e") {
  std::vector<PciDevice> devices;
  PciDevice pf = device("0000:01:00.0", 0x8086, 0x1572, 0x020000, pf_driver, 2);
  pf.sriov_total_vfs = 64;
  pf.sriov_num_vfs = vfs;
  for (unsigned i = 0; i < vfs; ++i) {
    const std::string address = "0000:01:02." + std::to_string(i);
    PciDevice vf = device(address.c_str(), 0x8086, 0x154c, 0x020000, "iavf", 10 + i);
    vf.physical_function = pf.address;
    pf.virtual_functions.push_back(vf.address);
    devices.push_back(std::move(vf));
  }
  devices.push_back(std::move(pf));
  return test::inventory_of(std::move(devices));
}

TEST(Sriov, APfWithVfsEnabledWouldLoseThemWhenUnbound) {
  const Inventory two = nic(2);
  const std::string lost = vfs_lost_by_unbinding(*two.find(addr("0000:01:00.0")));
  EXPECT_NE(lost.find("2 virtual functions enabled (0000:01:02.0 and 1 more)"), std::string::npos)
      << lost;
  EXPECT_NE(lost.find("unbinding i40e removes them"), std::string::npos) << lost;
  EXPECT_NE(lost.find("(pcipass vfs 0000:01:00.0 0)"), std::string::npos) << lost;

  EXPECT_EQ(vfs_lost_by_unbinding(*nic(0).find(addr("0000:01:00.0"))), "");
  EXPECT_EQ(vfs_lost_by_unbinding(*nic(2, "vfio-pci").find(addr("0000:01:00.0"))), "");
  // Without a driver vfio-pci still refuses it ("Cannot bind to PF with SR-IOV enabled").
  EXPECT_NE(vfs_lost_by_unbinding(*nic(2, "").find(addr("0000:01:00.0")))
                .find("vfio-pci refuses a PF with SR-IOV enabled"),
            std::string::npos);
  EXPECT_EQ(vfs_lost_by_unbinding(*two.find(addr("0000:01:02.1"))), "");  // a VF

  // A source that lists VFs without the count (libvirt) still counts them.
  PciDevice listed = *two.find(addr("0000:01:00.0"));
  listed.sriov_num_vfs.reset();
  EXPECT_EQ(enabled_vfs(listed), 2u);
}

TEST(Sriov, ListingsSayWhichPfAVfBelongsTo) {
  const Inventory three = nic(3);
  EXPECT_EQ(sriov_relation(*three.find(addr("0000:01:02.2")), three), "VF 2 of 0000:01:00.0");
  EXPECT_EQ(sriov_relation(*three.find(addr("0000:01:00.0")), three), "PF of 3 VFs");
  EXPECT_EQ(sriov_relation(*nic(0).find(addr("0000:01:00.0")), three), "");
}

TEST(Sriov, BindRefusesAPfWithVfsAndBindsAVf) {
  BindRequest pf;
  pf.devices = {addr("0000:01:00.0")};
  pf.force = Force::yes;  // not a host-usage question: --force does not help
  const auto refused = plan_bind(nic(2), pf, JournalState{}, VfioModule::loaded);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ExitCode::refused);
  EXPECT_NE(refused.error().message.find("0000:01:00.0: is an SR-IOV physical function"),
            std::string::npos)
      << refused.error().message;

  BindRequest vf;
  vf.devices = {addr("0000:01:02.1")};
  EXPECT_TRUE(plan_bind(nic(2), vf, JournalState{}, VfioModule::loaded));
  EXPECT_TRUE(plan_bind(nic(0), pf, JournalState{}, VfioModule::loaded));
}

AssignmentRequest assign(std::vector<std::pair<const char*, const char*>> devices) {
  AssignmentRequest r;
  r.technique = PassthroughTechnique::each;
  r.guests = {"a", "b"};
  for (const auto& [address, guest] : devices) {
    RequestedDevice d;
    d.address = addr(address);
    d.target_guest = guest;
    r.devices.push_back(d);
  }
  return r;
}

TEST(Sriov, APfAndItsVfsNeverGoToTwoGuests) {
  // On its own driver the PF cannot go anywhere while its VFs exist.
  auto pf_alone = plan_assignment(nic(2), assign({{"0000:01:00.0", "a"}}));
  ASSERT_FALSE(pf_alone);
  EXPECT_NE(pf_alone.error().message.find("unbinding i40e removes them"), std::string::npos);

  // On vfio-pci (which created the VFs) it may, but not away from its VFs.
  const Inventory on_vfio = nic(2, "vfio-pci");
  auto split = plan_assignment(on_vfio, assign({{"0000:01:00.0", "a"}, {"0000:01:02.1", "b"}}));
  ASSERT_FALSE(split);
  EXPECT_NE(split.error().message.find("0000:01:02.1 goes to 'b' while its physical function "
                                       "0000:01:00.0 goes to 'a'"),
            std::string::npos)
      << split.error().message;
  EXPECT_TRUE(plan_assignment(on_vfio, assign({{"0000:01:00.0", "a"}, {"0000:01:02.1", "a"}})));

  // VFs alone go anywhere: the PF stays with its driver.
  EXPECT_TRUE(plan_assignment(nic(2), assign({{"0000:01:02.0", "a"}, {"0000:01:02.1", "b"}})));
}

TEST(Sriov, RestoreNeverUnbindsAPfThatHasVfsAgain) {
  // Bound with no VFs; after the reboot something enabled two.
  const BindToVfio bound{addr("0000:01:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", "i40e", 2};
  JournalState journal;
  journal.finish(journal.begin(bound));
  const auto out = plan_restore(nic(2), journal, VfioModule::loaded, {}, RestoreRequest{Force::no, "/sys"});
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_NE(out.refused.front().find("SR-IOV physical function with 2 virtual functions"),
            std::string::npos)
      << out.refused.front();
  EXPECT_TRUE(out.plan.actions.empty() ||
              std::holds_alternative<LoadModule>(out.plan.actions.front()));
  EXPECT_TRUE(plan_restore(nic(0), journal, VfioModule::loaded, {}, RestoreRequest{Force::no, "/sys"}).refused.empty());
}

// A recorded PF that is gone or carries other ids after a reboot is named,
// never given a VF count.
TEST(Sriov, ACountIsNeverSetOnAnotherCardAtThePfsAddress) {
  JournalState journal;
  journal.finish(journal.begin(
      SetVfCount{addr("0000:01:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", 2, 0, false}));
  Inventory other = nic(0);
  PciDevice card = *other.find(addr("0000:01:00.0"));
  card.device_id = 0x1583;  // an XL710 now sits there
  Inventory swapped = test::inventory_of({card});
  for (const Plan& plan : {plan_vf_count_restore(swapped, journal),
                           plan_vf_count_undo(swapped, journal, {})}) {
    EXPECT_TRUE(plan.actions.empty());
    ASSERT_EQ(plan.refused.size(), 1u);
    EXPECT_NE(plan.refused.front().find("is now 8086:1583, not the 8086:1572"), std::string::npos)
        << plan.refused.front();
  }
  const Plan gone = plan_vf_count_restore(test::inventory_of({}), journal);
  ASSERT_EQ(gone.refused.size(), 1u);
  EXPECT_NE(gone.refused.front().find("not on this host now"), std::string::npos);
  // The same card with the other count gets it again.
  const Plan again = plan_vf_count_restore(nic(0), journal);
  ASSERT_EQ(again.actions.size(), 1u);
  EXPECT_EQ(std::get<SetVfCount>(again.actions.front()).count, 2u);
  // With the count it should have, nothing is done, unless the entry was
  // left unfinished: then the count is written again to close it.
  EXPECT_TRUE(plan_vf_count_restore(nic(2), journal).actions.empty());
  JournalState unfinished;
  unfinished.begin(SetVfCount{addr("0000:01:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", 2, 0});
  EXPECT_EQ(plan_vf_count_restore(nic(2), unfinished).actions.size(), 1u);
  VfCountRequest same{addr("0000:01:00.0"), 2, Force::no};
  EXPECT_TRUE(plan_vf_count(nic(2), same, journal)->actions.empty());
  EXPECT_EQ(plan_vf_count(nic(2), same, unfinished)->actions.size(), 1u);
}

// Two identical cards that swapped slots over a reboot have the same ids:
// only the PF's serials recorded with the count tell the one at the address
// is another card, whose VFs would reach the guests.
TEST(Sriov, ACountIsNeverGivenToAnIdenticalCardThatTookTheAddress) {
  const auto with_dsn = [](unsigned vfs, const char* dsn) {
    std::vector<PciDevice> devices;
    const Inventory base = nic(vfs);
    for (const auto& [address, d] : base.devices()) {
      PciDevice copy = d;
      if (!copy.physical_function) copy.dsn = dsn;
      devices.push_back(copy);
    }
    return test::inventory_of(std::move(devices));
  };
  const Inventory mine = with_dsn(0, "3c-fd-fe-ff-ff-a0-00-01");
  const Inventory twin = with_dsn(0, "3c-fd-fe-ff-ff-a0-00-02");
  const VfCountRequest two{addr("0000:01:00.0"), 2, Force::no};
  JournalState journal;
  const auto set = plan_vf_count(mine, two, journal);
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->actions.size(), 1u);
  EXPECT_EQ(std::get<SetVfCount>(set->actions.front()).identity.dsn, "3c-fd-fe-ff-ff-a0-00-01");
  journal.finish(journal.begin(set->actions.front()));

  for (const Plan& plan : {plan_vf_count_restore(twin, journal), plan_vf_count_undo(twin, journal, {})}) {
    EXPECT_TRUE(plan.actions.empty());
    ASSERT_EQ(plan.refused.size(), 1u);
    EXPECT_NE(plan.refused.front().find("0000:01:00.0: is not the card whose VFs pcipass changed "
                                        "(DSN 3c-fd-fe-ff-ff-a0-00-02, not "
                                        "3c-fd-fe-ff-ff-a0-00-01): an identical card took its "
                                        "address"),
              std::string::npos)
        << plan.refused.front();
  }
  // The same card gets its count again, still recorded with its serials.
  const Plan again = plan_vf_count_restore(mine, journal);
  ASSERT_EQ(again.actions.size(), 1u);
  EXPECT_EQ(std::get<SetVfCount>(again.actions.front()).identity.dsn, "3c-fd-fe-ff-ff-a0-00-01");

  // Set on the twin now: the entry was the other card's, so what it had
  // before (its `previous`) is not this card's and is not kept.
  JournalState other = journal;
  other.finish(other.begin(SetVfCount{addr("0000:01:00.0"), DeviceIds{0x8086, 0x1572}, "i40e", 2,
                                      1, false}));
  EXPECT_EQ(std::get<SetVfCount>(other.vf_count_entries().front()->action).previous, 0u)
      << "an entry without serials is no other card";
  const VfCountRequest three{addr("0000:01:00.0"), 3, Force::no};
  const auto on_twin = plan_vf_count(twin, three, journal);
  ASSERT_TRUE(on_twin) << on_twin.error().message;
  ASSERT_EQ(on_twin->notes.size(), 1u);
  EXPECT_NE(on_twin->notes.front().find("was made for another card (DSN 3c-fd-fe-ff-ff-a0-00-02, "
                                        "not 3c-fd-fe-ff-ff-a0-00-01)"),
            std::string::npos)
      << on_twin->notes.front();
  SetVfCount twins_count = std::get<SetVfCount>(on_twin->actions.front());
  twins_count.previous = 1;  // as if the twin had 1 VF then
  journal.finish(journal.begin(twins_count));
  const auto entries = journal.vf_count_entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(std::get<SetVfCount>(entries.front()->action).previous, 1u);
  EXPECT_EQ(std::get<SetVfCount>(entries.front()->action).identity.dsn, "3c-fd-fe-ff-ff-a0-00-02");
}

}  // namespace
}  // namespace pcipass::core
