// Twins that swapped addresses: every planner that acts on a recorded choice
// (plan from a .config, restore from the journal, Kconfig numbers from the
// previous file) tells the two identical drives apart by their serials.

#include "support/test_devices.hpp"

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/kconfig_numbers.hpp>
#include <pcipass/core/kconfig_writer.hpp>
#include <pcipass/core/restore_planner.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace pcipass::core {
namespace {

using test::addr;

constexpr const char* k_a = "0000:02:00.0";
constexpr const char* k_b = "0000:03:00.0";

// An NVMe drive of one model (144d:a80c) with `serial`, alone in `group`.
PciDevice drive(const char* address, const char* serial, unsigned group,
                const char* driver = "nvme") {
  PciDevice d = test::device(address, 0x144d, 0xa80c, 0x010802, driver, group);
  d.subsystem_vendor_id = 0x144d;
  d.subsystem_device_id = 0xa801;
  d.device_name = "NVMe SSD Controller";
  if (*serial != '\0') d.nvme = {{"nvme", "Samsung SSD 990 PRO 2TB", "4B2QJXD7", serial, {}}};
  return d;
}

// The number `ledger` gives the device at `address` (0 when none).
std::size_t number_at(const NumberLedger& ledger, const char* address) {
  for (const auto& [number, record] : ledger.records) {
    if (record.address == addr(address)) return number;
  }
  return 0;
}

Inventory before_swap() { return test::inventory_of({drive(k_a, "S1", 7), drive(k_b, "S2", 8)}); }
Inventory after_swap() { return test::inventory_of({drive(k_a, "S2", 7), drive(k_b, "S1", 8)}); }

DeviceIdentity serial(const char* s) {
  DeviceIdentity id;
  id.nvme_serial = s;
  return id;
}

AssignmentRequest request_for_a() {
  AssignmentRequest request;
  request.technique = PassthroughTechnique::first;
  request.guests = {"lab"};
  RequestedDevice wanted;
  wanted.address = addr(k_a);
  wanted.expected = DeviceIds{0x144d, 0xa80c};
  wanted.expected_identity = serial("S1");
  request.devices.push_back(wanted);
  return request;
}

TEST(IdentityChecks, PlanRefusesTheTwinThatTookTheAddressAndSaysWhereTheChoiceWent) {
  ASSERT_TRUE(plan_assignment(before_swap(), request_for_a()));  // the control
  const auto plan = plan_assignment(after_swap(), request_for_a());
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ExitCode::refused);
  EXPECT_EQ(plan.error().message,
            "refusing to assign the devices:\n"
            "  0000:02:00.0: not the device selected (NVMe serial S2, not S1): an identical device "
            "took its address; the selected device (NVMe serial S1) moved from 0000:02:00.0 to "
            "0000:03:00.0 (--follow-moved takes it there)");
}

TEST(IdentityChecks, FollowMovedTakesTheChosenDeviceAtItsNewAddress) {
  AssignmentRequest request = request_for_a();
  request.follow_moved = FollowMoved::yes;
  const Assignment plan = plan_assignment(after_swap(), request).value();
  ASSERT_EQ(plan.all_devices(), std::vector<PciAddress>{addr(k_b)});
  EXPECT_EQ(plan.guests.front().devices.front().identity.nvme_serial, "S1");
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_EQ(plan.notes.front(),
            "the selected device (NVMe serial S1) moved from 0000:02:00.0 to 0000:03:00.0; using "
            "0000:03:00.0 (--follow-moved)");
}

TEST(IdentityChecks, AChoiceWhoseSerialIsNowhereIsRefused) {
  const Inventory strangers = test::inventory_of({drive(k_a, "S7", 7), drive(k_b, "S8", 8)});
  AssignmentRequest request = request_for_a();
  request.follow_moved = FollowMoved::yes;
  const auto plan = plan_assignment(strangers, request);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("the selected device (NVMe serial S1) is not on this host now"),
            std::string::npos)
      << plan.error().message;
}

TEST(IdentityChecks, ASerialTheDriverHidesIsNotedNotRefused) {
  // On vfio-pci the NVMe controller (and its serial) is gone.
  const Inventory hidden = test::inventory_of({drive(k_a, "", 7, "vfio-pci"), drive(k_b, "S2", 8)});
  const Assignment plan = plan_assignment(hidden, request_for_a()).value();
  EXPECT_EQ(plan.all_devices(), std::vector<PciAddress>{addr(k_a)});
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_EQ(plan.notes.front(),
            "0000:02:00.0: its serials cannot be checked now (selected: NVMe serial S1; it shows "
            "no serial, as devices on vfio-pci often do); only its vendor:device is checked");
  // But a hidden serial found at another address is the twin, not this one.
  const Inventory moved = test::inventory_of({drive(k_a, "", 7, "vfio-pci"), drive(k_b, "S1", 8)});
  EXPECT_FALSE(plan_assignment(moved, request_for_a()));
}

TEST(IdentityChecks, SerialsTwoDevicesShareTellNothingAndSaySo) {
  const Inventory shared = test::inventory_of({drive(k_a, "S1", 7), drive(k_b, "S1", 8)});
  const Assignment plan = plan_assignment(shared, request_for_a()).value();
  EXPECT_EQ(plan.all_devices(), std::vector<PciAddress>{addr(k_a)});
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_EQ(plan.notes.front(),
            "0000:02:00.0: its serials (NVMe serial S1) also match 0000:03:00.0: they cannot tell "
            "these devices apart; only its vendor:device is checked");
}

// A drive whose NVMe serial is hidden (on vfio-pci) showing only `dsn`.
PciDevice hidden_drive(const char* address, const char* dsn, unsigned group) {
  PciDevice d = drive(address, "", group, "vfio-pci");
  d.dsn = dsn;
  return d;
}

TEST(IdentityChecks, AnUnprovedDeviceNeverLendsItsSerialsToTheRecord) {
  // The first file knew only the NVMe serial (made without root: no DSN).
  KconfigOptions options;
  options.host_devices = HostDevices::include;
  const NumberLedger first = passthrough_numbers(before_swap(), options);
  const std::size_t number_of_a = number_at(first, k_a);
  // Now the twin S2 sits at A on vfio-pci (only its DSN shows) and S1, with
  // its DSN, sits at B: A cannot be proved to be S1, and S1 is elsewhere.
  PciDevice s1_at_b = drive(k_b, "S1", 8);
  s1_at_b.dsn = "00-00-00-00-00-00-00-01";
  const Inventory now =
      test::inventory_of({hidden_drive(k_a, "00-00-00-00-00-00-00-02", 7), s1_at_b});
  options.previous = &first;
  const NumberLedger second = passthrough_numbers(now, options);
  EXPECT_FALSE(second.records.at(number_of_a).offered);
  EXPECT_EQ(second.records.at(number_of_a).note, "changed");
  // And nothing ever records S1 together with the stranger's DSN.
  for (const auto& [number, record] : second.records) {
    if (record.identity.dsn == "00-00-00-00-00-00-00-02") {
      EXPECT_EQ(record.identity.nvme_serial, "") << number;
    }
  }
}

JournalState journal_with_bind_of_a() {
  const Plan bind = plan_bind(before_swap(), {{addr(k_a)}, Force::no, GroupExpansion::named_only},
                              JournalState{}, VfioModule::loaded)
                        .value();
  JournalState journal;
  for (const Action& action : bind.actions) journal.finish(journal.begin(action));
  return journal;
}

TEST(IdentityChecks, BindRecordsTheSerialsAndTheJournalKeepsThem) {
  const JournalState journal = journal_with_bind_of_a();
  const JournalEntry* entry = journal.bind_entry(addr(k_a));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(std::get<BindToVfio>(entry->action).identity.nvme_serial, "S1");
  const JournalState read_back = JournalState::parse(journal.to_text()).value();
  EXPECT_EQ(std::get<BindToVfio>(read_back.bind_entry(addr(k_a))->action).identity,
            std::get<BindToVfio>(entry->action).identity);
}

TEST(IdentityChecks, RestoreNeverBindsTheTwinNowAtTheAddress) {
  const JournalState journal = journal_with_bind_of_a();
  // The control: the same drive after a plain reboot is bound again.
  const RestorePlan same = plan_restore(before_swap(), journal, VfioModule::loaded, {}, {});
  ASSERT_EQ(same.plan.actions.size(), 1u);
  EXPECT_TRUE(same.refused.empty());

  const RestorePlan swapped = plan_restore(after_swap(), journal, VfioModule::loaded, {}, {});
  EXPECT_TRUE(swapped.plan.actions.empty());
  ASSERT_EQ(swapped.refused.size(), 1u);
  EXPECT_EQ(swapped.refused.front(),
            "0000:02:00.0: is not the device pcipass bound there (NVMe serial S2, not S1): an "
            "identical device took its address; not touching it; the device pcipass bound (NVMe "
            "serial S1) moved from 0000:02:00.0 to 0000:03:00.0: pcipass bind 0000:03:00.0 binds "
            "it there, and pcipass bringup (or plan --follow-moved) points its guest at it");
}

TEST(IdentityChecks, RestoreRefusesADeviceItCannotTellFromOneWhoseSerialsAreElsewhere) {
  const JournalState journal = journal_with_bind_of_a();
  PciDevice s1_at_b = drive(k_b, "S1", 8);
  const Inventory now =
      test::inventory_of({hidden_drive(k_a, "00-00-00-00-00-00-00-02", 7), s1_at_b});
  const RestorePlan plan = plan_restore(now, journal, VfioModule::loaded, {}, {});
  EXPECT_TRUE(plan.plan.actions.empty());
  ASSERT_EQ(plan.refused.size(), 1u);
  EXPECT_TRUE(plan.refused.front().starts_with(
      "0000:02:00.0: cannot be told from the device pcipass bound there (it shows DSN "
      "00-00-00-00-00-00-00-02), whose serials are found elsewhere; not touching it; the device "
      "pcipass bound (NVMe serial S1) moved from 0000:02:00.0 to 0000:03:00.0"))
      << plan.refused.front();
}

TEST(IdentityChecks, ABindOverAnotherDevicesJournalEntryGivesThisOneItsOwnDriver) {
  JournalState journal = journal_with_bind_of_a();  // S1 at A, from nvme
  PciDevice twin = drive(k_a, "S2", 7, "nvme_twin_driver");
  const Inventory now = test::inventory_of({twin, drive(k_b, "S1", 8)});
  const Plan plan = plan_bind(now, {{addr(k_a)}, Force::no, GroupExpansion::named_only}, journal,
                              VfioModule::loaded)
                        .value();
  ASSERT_EQ(plan.actions.size(), 1u);
  const auto& bind = std::get<BindToVfio>(plan.actions.front());
  EXPECT_EQ(bind.restore_driver, "nvme_twin_driver");
  EXPECT_EQ(bind.identity.nvme_serial, "S2");
  EXPECT_NE(std::find_if(plan.notes.begin(), plan.notes.end(),
                         [](const std::string& n) {
                           return n.find("was made for another device (NVMe serial S2, not S1)") !=
                                  std::string::npos;
                         }),
            plan.notes.end());
}

TEST(IdentityChecks, KconfigNumbersFollowSerialsNotJustIds) {
  KconfigOptions options;
  options.host_devices = HostDevices::include;
  const NumberLedger first = passthrough_numbers(before_swap(), options);
  const std::size_t number_of_a = number_at(first, k_a);
  ASSERT_NE(number_of_a, 0u);
  EXPECT_EQ(first.records.at(number_of_a).identity.nvme_serial, "S1");

  // Regenerated after the swap: the twins have the same ids, yet neither
  // keeps its number, and no number is given twice.
  options.previous = &first;
  const NumberLedger second = passthrough_numbers(after_swap(), options);
  EXPECT_FALSE(second.records.at(number_of_a).offered);
  EXPECT_EQ(second.records.at(number_of_a).note, "changed");
  std::size_t s1_now = 0;
  for (const auto& [number, record] : second.records) {
    if (record.offered && record.identity.nvme_serial == "S1") s1_now = number;
  }
  ASSERT_GT(s1_now, first.highest_given);

  // A .config that selected the old number hears where its drive went.
  PassthroughChoices choices;
  choices.enabled = true;
  SelectedDevice selected;
  selected.number = number_of_a;
  selected.address = addr(k_a);
  selected.vendor_id = 0x144d;
  selected.device_id = 0xa80c;
  selected.identity = serial("S1");
  choices.devices.push_back(selected);
  const auto stale = stale_selections(choices, second, "Kconfig.generated");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_NE(stale.front().message.find("the device it chose (NVMe serial S1) is now " +
                                       passthrough_symbol(s1_now) + " at 0000:03:00.0"),
            std::string::npos)
      << stale.front().message;

  // A ledger numbered afresh on the swapped host gives the number to the
  // twin: the .config's serial says that is another device.
  KconfigOptions afresh;
  afresh.host_devices = HostDevices::include;
  const NumberLedger fresh = passthrough_numbers(after_swap(), afresh);
  const auto repointed = stale_selections(choices, fresh, "Kconfig.generated");
  ASSERT_EQ(repointed.size(), 1u);
  EXPECT_TRUE(repointed.front().repointed);
  EXPECT_NE(repointed.front().message.find("an identical device (NVMe serial S2, not S1)"),
            std::string::npos)
      << repointed.front().message;
}

}  // namespace
}  // namespace pcipass::core
