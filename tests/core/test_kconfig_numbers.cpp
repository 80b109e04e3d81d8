// The numbers of the generated Kconfig: kdevops' numbering the first time,
// kept from the previous file after that, never moved to another device;
// and the check of a .config's selections against them.

#include <pcipass/core/kconfig_numbers.hpp>
#include <pcipass/core/kconfig_writer.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pcipass::core {
namespace {

using test::addr;
using test::inventory_of;

// An endpoint with ids; `subsystem` gives it subsystem ids (so lspci shows
// an SDevice line and kdevops numbers it).
PciDevice device(const char* address, unsigned group, std::uint16_t device_id,
                 bool subsystem = true) {
  PciDevice d;
  d.address = addr(address);
  d.header = HeaderKind::endpoint;
  d.class_code = 0x010802;
  d.iommu_group = group;
  d.vendor_id = 0x144d;
  d.device_id = device_id;
  if (subsystem) {
    d.subsystem_vendor_id = 0x144d;
    d.subsystem_device_id = 0xa801;
  }
  return d;
}

PciDevice host_bridge(const char* address, unsigned group) {
  PciDevice d = device(address, group, 0x1234);
  d.vendor_id = 0x8086;
  d.class_code = 0x060000;
  return d;
}

GeneratedKconfig generate(const Inventory& inventory, const NumberLedger* previous = nullptr,
                          HostDevices host = HostDevices::leave_out) {
  KconfigOptions options;
  options.previous = previous;
  options.host_devices = host;
  return generate_passthrough_kconfig(inventory, options);
}

// The address entry `number` offers in `text`, or "" when it offers none.
std::string offered_address(const std::string& text, std::size_t number) {
  const std::string key = "config " + passthrough_symbol(number) + "_PCI_ID\n\tstring\n\tdefault \"";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return {};
  return text.substr(at + key.size(), 12);
}

std::string num_devices(const std::string& text) {
  const std::string key = "_NUM_DEVICES\n\tstring\n\tdefault \"";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return {};
  return text.substr(at + key.size(), text.find('"', at + key.size()) - at - key.size());
}

NumberLedger ledger_of(const std::string& text) {
  auto ledger = read_number_ledger(text, "Kconfig.passthrough_libvirt.generated");
  EXPECT_TRUE(ledger) << ledger.error().message;
  return ledger ? *ledger : NumberLedger{};
}

// A workstation-like host: a host bridge with subsystem ids (kdevops numbers
// it), a drive without (kdevops skips it), a drive the host boots from, and
// two free drives.
Inventory workstation() {
  PciDevice boot = device("0000:03:00.0", 3, 0xa808);
  boot.host_uses = {"backs / (ext4 on /dev/nvme0n1p2)"};
  return inventory_of({host_bridge("0000:00:00.0", 0), device("0000:01:00.0", 1, 0xa80a, false),
                       device("0000:02:00.0", 2, 0xa809), std::move(boot),
                       device("0000:04:00.0", 4, 0xa809)});
}

TEST(KconfigNumbers, FirstNumbersAreKdevopsPositionsWithGapsForDevicesNotOffered) {
  const GeneratedKconfig g = generate(workstation());
  // kdevops: 00:00.0 is 1, 02:00.0 is 2, 03:00.0 is 3, 04:00.0 is 4; the
  // drive without subsystem ids comes after them.
  EXPECT_EQ(offered_address(g.text, 1), "");  // the host bridge: never offered
  EXPECT_EQ(offered_address(g.text, 2), "0000:02:00.0");
  EXPECT_EQ(offered_address(g.text, 3), "");  // the boot drive: the host uses it
  EXPECT_EQ(offered_address(g.text, 4), "0000:04:00.0");
  EXPECT_EQ(offered_address(g.text, 5), "0000:01:00.0");
  EXPECT_EQ(num_devices(g.text), "5");
  EXPECT_NE(g.text.find("# number 0001 0000:00:00.0 8086:1234 not offered\n"), std::string::npos);
  EXPECT_NE(g.text.find("# number 0003 0000:03:00.0 144d:a808 not offered\n"), std::string::npos);
}

TEST(KconfigNumbers, TheNextRunKeepsEveryNumberAndTheTextIsUnchanged) {
  const Inventory inventory = workstation();
  const GeneratedKconfig first = generate(inventory);
  const NumberLedger ledger = ledger_of(first.text);
  EXPECT_EQ(ledger.records.size(), 5u);
  EXPECT_TRUE(ledger.records.at(2).offered);
  EXPECT_FALSE(ledger.records.at(3).offered);
  EXPECT_EQ(generate(inventory, &ledger).text, first.text);
}

TEST(KconfigNumbers, ARemovedDeviceRetiresItsNumberAndANewOneGetsAFreshNumber) {
  const NumberLedger before = ledger_of(generate(workstation()).text);
  // 02:00.0 is pulled; a new drive appears at 05:00.0; the free drive at
  // 04:00.0 stays.
  PciDevice boot = device("0000:03:00.0", 3, 0xa808);
  boot.host_uses = {"backs /"};
  const Inventory after =
      inventory_of({host_bridge("0000:00:00.0", 0), device("0000:01:00.0", 1, 0xa80a, false),
                    std::move(boot), device("0000:04:00.0", 4, 0xa809),
                    device("0000:05:00.0", 5, 0xa809)});
  const GeneratedKconfig g = generate(after, &before);
  EXPECT_EQ(offered_address(g.text, 2), "");  // never given to anyone else
  EXPECT_EQ(offered_address(g.text, 4), "0000:04:00.0");
  EXPECT_EQ(offered_address(g.text, 5), "0000:01:00.0");
  EXPECT_EQ(offered_address(g.text, 6), "0000:05:00.0");
  EXPECT_EQ(num_devices(g.text), "6");
  EXPECT_NE(g.text.find("# number 0002 0000:02:00.0 144d:a809 gone\n"), std::string::npos);
  ASSERT_EQ(g.newly_retired.size(), 1u);
  EXPECT_EQ(g.newly_retired[0].number, 2u);

  // The retired number is read back as retired. A drive with the same ids
  // back at the same address gets its number back: by address and ids it is
  // the same device, as for one that never left (serials will tell twins
  // apart). Every other device gone now retires its number in this run.
  const NumberLedger later = ledger_of(g.text);
  EXPECT_EQ(later.records.at(2).note, "gone");
  const Inventory refilled =
      inventory_of({device("0000:02:00.0", 2, 0xa809), device("0000:04:00.0", 4, 0xa809)});
  const GeneratedKconfig again = generate(refilled, &later);
  EXPECT_EQ(offered_address(again.text, 2), "0000:02:00.0");
  EXPECT_EQ(offered_address(again.text, 4), "0000:04:00.0");
  EXPECT_EQ(again.newly_retired.size(), 4u);  // 00:00.0, 03:00.0, 01:00.0, 05:00.0
}

TEST(KconfigNumbers, ADifferentDeviceAtTheSameAddressGetsANewNumber) {
  const NumberLedger before = ledger_of(generate(workstation()).text);
  PciDevice boot = device("0000:03:00.0", 3, 0xa808);
  boot.host_uses = {"backs /"};
  const Inventory swapped =
      inventory_of({host_bridge("0000:00:00.0", 0), device("0000:01:00.0", 1, 0xa80a, false),
                    device("0000:02:00.0", 2, 0x5678), std::move(boot),
                    device("0000:04:00.0", 4, 0xa809)});
  const GeneratedKconfig g = generate(swapped, &before);
  EXPECT_EQ(offered_address(g.text, 2), "");
  EXPECT_EQ(offered_address(g.text, 6), "0000:02:00.0");
  EXPECT_NE(g.text.find("# number 0002 0000:02:00.0 144d:a809 changed\n"), std::string::npos);
}

TEST(KconfigNumbers, AFileOfKdevopsOwnGeneratorKeepsItsNumbers) {
  // kdevops' file has no _VENDOR_DEVICE: a record matches by address and,
  // where both are known, by the subsystem name lspci showed.
  const std::string kdevops =
      "# Automatically generated PCI-E passthrough Kconfig by kdevops\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"0000:04:00.0 IOMMU group 4 - X\"\n"
      "\tdefault n\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:04:00.0\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_SDEVICE\n\tstring\n\tdefault \"SSD 980\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002\n\tbool \"0000:02:00.0 IOMMU group 2 - Y\"\n"
      "\tdefault n\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_PCI_ID\n\tstring\n\tdefault \"0000:02:00.0\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_SDEVICE\n\tstring\n\tdefault \"SSD 970\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES\n\tstring\n\tdefault \"2\"\n\n";
  const NumberLedger ledger = ledger_of(kdevops);
  ASSERT_EQ(ledger.records.size(), 2u);
  EXPECT_EQ(ledger.records.at(1).address, addr("0000:04:00.0"));
  EXPECT_EQ(ledger.records.at(1).sdevice, "SSD 980");

  PciDevice same = device("0000:04:00.0", 4, 0xa809);
  same.subsystem_name = "SSD 980";
  PciDevice other = device("0000:02:00.0", 2, 0xa809);
  other.subsystem_name = "Another drive";
  const GeneratedKconfig g = generate(inventory_of({std::move(same), std::move(other)}), &ledger);
  EXPECT_EQ(offered_address(g.text, 1), "0000:04:00.0");
  EXPECT_EQ(offered_address(g.text, 2), "");  // another drive now: a new number
  EXPECT_EQ(offered_address(g.text, 3), "0000:02:00.0");
}

// Device names are wrapped into help text at any word: a help line that
// reads like a record is still help text, as Kconfig itself reads it.
TEST(KconfigNumbers, HelpTextThatReadsLikeARecordIsNoRecord) {
  const std::string text =
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"0000:04:00.0 X\"\n\tdefault n\n"
      "\thelp\n"
      "\t  Subsystem: Evil drive\n"
      "\t  config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0009_PCI_ID\n"
      "\n"
      "\t  default \"0000:09:00.0\"\n"
      "\t    # number 0007 0000:07:00.0 144d:a809 not offered\n"
      "\t  # identity 0001 nvme:FAKE\n"
      "\t  help\n"
      "\t  default \"0000:08:00.0\"\n"
      "\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:04:00.0\"\n"
      "\n"
      "# number 0002 0000:05:00.0 144d:a809 not offered\n";
  const NumberLedger ledger = ledger_of(text);
  ASSERT_EQ(ledger.records.size(), 2u);
  EXPECT_EQ(ledger.records.at(1).address, addr("0000:04:00.0"));
  EXPECT_FALSE(ledger.records.at(1).identity.has_serial());
  EXPECT_EQ(ledger.records.at(2).address, addr("0000:05:00.0"));
  EXPECT_FALSE(ledger.records.contains(7));
  EXPECT_FALSE(ledger.records.contains(9));

  // A help block ends at the first line indented less than its first line.
  const NumberLedger after_help = ledger_of(
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"x\"\n\thelp\n\t  text\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:04:00.0\"\n");
  ASSERT_EQ(after_help.records.size(), 1u);
  EXPECT_EQ(after_help.records.at(1).address, addr("0000:04:00.0"));
}

TEST(KconfigNumbers, AnEmptyPreviousFileNumbersAfresh) {
  const NumberLedger ledger = ledger_of("");
  EXPECT_TRUE(ledger.empty());
  EXPECT_EQ(generate(workstation(), &ledger).text, generate(workstation()).text);
}

TEST(KconfigNumbers, ARecordThatCannotBeReadIsBadInputWithItsLine) {
  const auto bad_address = read_number_ledger(
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"x\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"02:00\"\n",
      "K");
  ASSERT_FALSE(bad_address);
  EXPECT_EQ(bad_address.error().code, ExitCode::bad_input);
  EXPECT_NE(bad_address.error().message.find("K line 6:"), std::string::npos)
      << bad_address.error().message;

  const auto no_address =
      read_number_ledger("config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0004\n\tbool \"x\"\n", "K");
  ASSERT_FALSE(no_address);
  EXPECT_NE(no_address.error().message.find("has no _PCI_ID"), std::string::npos);

  const auto twice = read_number_ledger(
      "# number 0003 0000:03:00.0 144d:a808 not offered\n"
      "# number 0003 0000:04:00.0 - gone\n",
      "K");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("K line 2: number 3 is given twice"), std::string::npos)
      << twice.error().message;

  const auto garbled = read_number_ledger("# number 0003 nowhere\n", "K");
  ASSERT_FALSE(garbled);
  EXPECT_NE(garbled.error().message.find("K line 1:"), std::string::npos);
}

TEST(KconfigNumbers, OnlyTheSpellingPcipassWritesIsANumberAndAFieldCountsOnce) {
  // Kconfig takes `_7` or `_00012` for other symbols than `_0007` and
  // `_0012`: neither is an entry, so neither lacks a _PCI_ID.
  std::string text;
  for (const char* number : {"7", "00012", "0007x"}) {
    text += std::string("config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_") + number + "\n\tbool \"x\"\n";
  }
  text += "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345\n\tbool \"x\"\n"
          "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345_PCI_ID\n\tstring\n"
          "\tdefault \"0000:02:00.0\"\n"
          "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345_TARGET_GUEST\n\tstring\n"
          "\tdefault \"not a field that counts\"\n";
  const auto ledger = read_number_ledger(text, "K");
  ASSERT_TRUE(ledger) << ledger.error().message;
  ASSERT_EQ(ledger->records.size(), 1u);
  EXPECT_EQ(ledger->records.begin()->first, 12345u);
  EXPECT_EQ(ledger->records.begin()->second.address, addr("0000:02:00.0"));

  const auto zero = read_number_ledger("config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0000\n", "K");
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("K line 1: number 0"), std::string::npos);

  const auto field_twice = read_number_ledger(
      text + "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345_PCI_ID\n\tstring\n"
             "\tdefault \"0000:03:00.0\"\n",
      "K");
  ASSERT_FALSE(field_twice);
  EXPECT_NE(field_twice.error().message.find(
                "K line 17: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345_PCI_ID is given twice"),
            std::string::npos)
      << field_twice.error().message;
}

PassthroughChoices selecting(std::size_t number, const char* address,
                             std::optional<std::uint16_t> device_id = std::nullopt) {
  PassthroughChoices choices;
  choices.enabled = true;
  SelectedDevice s;
  s.number = number;
  s.address = addr(address);
  if (device_id) {
    s.vendor_id = 0x144d;
    s.device_id = device_id;
  }
  choices.devices.push_back(s);
  return choices;
}

TEST(KconfigNumbers, SelectionsThatStillMeanTheirDeviceAreNotStale) {
  const NumberLedger ledger = ledger_of(generate(workstation()).text);
  EXPECT_TRUE(stale_selections(selecting(2, "0000:02:00.0", 0xa809), ledger, "K").empty());
  EXPECT_TRUE(stale_selections(selecting(4, "0000:04:00.0"), ledger, "K").empty());
}

TEST(KconfigNumbers, ASelectionOfAnotherNumberingIsRepointedAndSaysWhereItsDeviceIs) {
  const NumberLedger ledger = ledger_of(generate(workstation()).text);
  // pcipass's old numbering called 0000:04:00.0 number 2.
  const auto stale = stale_selections(selecting(2, "0000:04:00.0", 0xa809), ledger, "K");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_TRUE(stale[0].repointed);
  EXPECT_EQ(stale[0].message,
            "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002 selected 0000:04:00.0 (144d:a809), "
            "but K gives that number to 0000:02:00.0 (144d:a809); 0000:04:00.0 is now "
            "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0004");
}

TEST(KconfigNumbers, ASelectionOfAGoneOrHostUsedDeviceIsStaleButNotRepointed) {
  const NumberLedger before = ledger_of(generate(workstation()).text);
  const Inventory pulled = inventory_of({device("0000:04:00.0", 4, 0xa809)});
  const NumberLedger after = generate(pulled, &before).ledger;
  const auto gone = stale_selections(selecting(2, "0000:02:00.0", 0xa809), after, "K");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_FALSE(gone[0].repointed);
  EXPECT_EQ(gone[0].message,
            "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002 selected 0000:02:00.0 (144d:a809), "
            "which is gone; a device with the same ids is KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0004 "
            "at 0000:04:00.0 (the same one or its twin: check)");

  const auto used = stale_selections(selecting(3, "0000:03:00.0", 0xa808), before, "K");
  ASSERT_EQ(used.size(), 1u);
  EXPECT_FALSE(used[0].repointed);
  EXPECT_NE(used[0].message.find("which is no longer offered (not offered)"), std::string::npos)
      << used[0].message;
}

TEST(KconfigNumbers, ADotConfigRecordsEveryEntryOfTheFileItWasMadeWith) {
  const auto config = DotConfig::parse(
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID=\"0000:02:00.0\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_SDEVICE=\"ZNS\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0009_PCI_ID=\"0000:05:00.0\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0009_VENDOR_DEVICE=\"8086:15f3\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES=\"9\"\n");
  ASSERT_TRUE(config);
  const auto ledger = number_ledger_from_config(*config);
  ASSERT_TRUE(ledger) << ledger.error().message;
  ASSERT_EQ(ledger->records.size(), 2u);
  EXPECT_EQ(ledger->records.at(7).address, addr("0000:02:00.0"));
  EXPECT_EQ(ledger->records.at(7).sdevice, "ZNS");
  EXPECT_EQ(ledger->records.at(9).device_id, 0x15f3);

  const auto broken = DotConfig::parse(
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_SDEVICE=\"ZNS\"\n", ".config");
  ASSERT_TRUE(broken);
  const auto refused = number_ledger_from_config(*broken);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ExitCode::bad_input);
}

// A device lspci shows without ids (kdevops' own files never have ids).
PciDevice named(const char* address, unsigned group, const char* subsystem) {
  PciDevice d;
  d.address = addr(address);
  d.header = HeaderKind::endpoint;
  d.class_code = 0x010802;
  d.iommu_group = group;
  d.device_name = "NVMe SSD Controller";
  if (subsystem != nullptr) d.subsystem_name = subsystem;
  return d;
}

const std::string k_kdevops_file =
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"x\"\n\n"
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:01:00.0\"\n\n"
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_SDEVICE\n\tstring\n\tdefault \"SSD 980\"\n\n"
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002\n\tbool \"y\"\n\n"
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_PCI_ID\n\tstring\n\tdefault \"0000:02:00.0\"\n\n"
    "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_SDEVICE\n\tstring\n\tdefault \"SSD 970\"\n\n";

TEST(KconfigNumbers, ANumberRetiredWithoutIdsNeverComesBackForAnotherDevice) {
  const NumberLedger kdevops = ledger_of(k_kdevops_file);
  // The drive in slot 02 was swapped for a WD drive.
  const Inventory swapped =
      inventory_of({named("0000:01:00.0", 1, "SSD 980"), named("0000:02:00.0", 2, "WD Blue")});
  const GeneratedKconfig first = generate(swapped, &kdevops);
  EXPECT_EQ(offered_address(first.text, 1), "0000:01:00.0");
  EXPECT_EQ(offered_address(first.text, 2), "");
  EXPECT_EQ(offered_address(first.text, 3), "0000:02:00.0");
  EXPECT_NE(first.text.find("# number 0002 0000:02:00.0 - changed | SSD 970\n"), std::string::npos)
      << first.text;
  // Nothing changes on the next runs: 0002 stays retired.
  const NumberLedger again = ledger_of(first.text);
  const GeneratedKconfig second = generate(swapped, &again);
  EXPECT_EQ(second.text, first.text);
}

TEST(KconfigNumbers, AKdevopsRecordNeverMeansADeviceWithoutASubsystem) {
  const NumberLedger kdevops = ledger_of(k_kdevops_file);
  const Inventory nic =
      inventory_of({named("0000:01:00.0", 1, "SSD 980"), named("0000:02:00.0", 2, nullptr)});
  const GeneratedKconfig g = generate(nic, &kdevops);
  EXPECT_EQ(offered_address(g.text, 2), "");
  EXPECT_EQ(offered_address(g.text, 3), "0000:02:00.0");
}

TEST(KconfigNumbers, NamesWithQuotesKeepTheirNumberRunAfterRun) {
  const Inventory quoted = inventory_of(
      {named("0000:01:00.0", 1, "RV250 If [Radeon 9000 \"Atlantis\"]"),
       named("0000:02:00.0", 2, "It's $HOME `x` \\")});
  const GeneratedKconfig first = generate(quoted);
  NumberLedger ledger = ledger_of(first.text);
  std::string text = first.text;
  for (int run = 0; run < 3; ++run) {
    const GeneratedKconfig next = generate(quoted, &ledger);
    EXPECT_EQ(next.text, text) << "run " << run;
    ledger = ledger_of(next.text);
  }
}

TEST(KconfigNumbers, ASelectionWithoutIdsIsCheckedByItsSubsystemName) {
  const NumberLedger kdevops = ledger_of(k_kdevops_file);
  const Inventory swapped =
      inventory_of({named("0000:01:00.0", 1, "SSD 980"), named("0000:02:00.0", 2, "WD Blue")});
  // A ledger that (wrongly or from another run) offers 0002 for the WD drive.
  NumberLedger repointed = generate(swapped, &kdevops).ledger;
  repointed.records[2] = repointed.records.at(3);
  repointed.records[2].number = 2;
  PassthroughChoices choices = selecting(2, "0000:02:00.0");
  choices.devices[0].sdevice = "SSD 970";
  const auto stale = stale_selections(choices, repointed, "K");
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_TRUE(stale[0].repointed);
  EXPECT_EQ(stale[0].message,
            "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002 selected 0000:02:00.0 (SSD 970), but "
            "the device there is now 0000:02:00.0 (WD Blue); 0000:02:00.0 is now "
            "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003");
}

TEST(KconfigNumbers, TheHighestNumberADotConfigRecordsIsNeverGivenAgain) {
  const auto config = DotConfig::parse(
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_PCI_ID=\"0000:02:00.0\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_VENDOR_DEVICE=\"144d:a809\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES=\"2\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_HIGHEST_NUMBER=\"12\"\n");
  ASSERT_TRUE(config);
  const auto ledger = number_ledger_from_config(*config);
  ASSERT_TRUE(ledger) << ledger.error().message;
  EXPECT_EQ(ledger->highest_given, 12u);
  const GeneratedKconfig g =
      generate(inventory_of({device("0000:02:00.0", 2, 0xa809), device("0000:04:00.0", 4, 0xa809)}),
               &*ledger);
  EXPECT_EQ(offered_address(g.text, 2), "0000:02:00.0");
  EXPECT_EQ(offered_address(g.text, 13), "0000:04:00.0");
}

TEST(KconfigNumbers, OtherSpellingsZeroAndFieldsGivenTwiceAreCaught) {
  const std::string entry =
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n\tbool \"x\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:01:00.0\"\n";
  // `_7_PCI_ID` is another symbol to Kconfig, not number 7.
  const NumberLedger other = ledger_of(
      entry + "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_7_PCI_ID\n\tstring\n\tdefault \"0000:07:00.0\"\n");
  EXPECT_FALSE(other.records.contains(7));
  const auto twice = read_number_ledger(
      entry + "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault \"0000:02:00.0\"\n",
      "K");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("K line 9: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID is "
                                       "given twice"),
            std::string::npos)
      << twice.error().message;
  const auto second_default = read_number_ledger(entry + "\tdefault \"0000:02:00.0\"\n", "K");
  ASSERT_TRUE(second_default);
  EXPECT_EQ(second_default->records.at(1).address, addr("0000:01:00.0"));  // Kconfig's first
  const auto zero = read_number_ledger("config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0000\n", "K");
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("number 0"), std::string::npos);
}

}  // namespace
}  // namespace pcipass::core
