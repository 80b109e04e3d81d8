// Device identity: what tells identical twins apart, its text and JSON
// forms, the comparison every check relies on, and the VPD and DSN decoding.

#include "support/test_devices.hpp"

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_device.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

DeviceIdentity nvme(const std::string& serial, const std::string& dsn = "") {
  DeviceIdentity id;
  id.nvme_serial = serial;
  id.dsn = dsn;
  return id;
}

TEST(DeviceIdentity, TextRoundTripsAnyFirmwareString) {
  DeviceIdentity id;
  id.nvme_serial = "S4 EW%NX=0R\"12\\$`";
  id.dsn = "00-11-22-33-44-55-66-77";
  id.mac = "3c:7c:3f:12:34:56";
  id.vpd_serial = "PBA G69839-003";
  id.slot = "PCIe Slot 3";
  const std::string text = id.to_text();
  EXPECT_EQ(text,
            "nvme-serial=S4%20EW%25NX%3D0R%2212%5C%24%60 dsn=00-11-22-33-44-55-66-77 "
            "mac=3c:7c:3f:12:34:56 vpd-serial=PBA%20G69839-003 slot=PCIe%20Slot%203");
  // Nothing a Kconfig string or a shell could read specially is left.
  EXPECT_EQ(text.find_first_of("\"\\$`"), std::string::npos);
  EXPECT_EQ(DeviceIdentity::parse(text).value(), id);
  EXPECT_EQ(DeviceIdentity::parse("").value(), DeviceIdentity{});
  EXPECT_EQ(DeviceIdentity{}.to_text(), "");
}

TEST(DeviceIdentity, MalformedTextIsRefusedNamingWhat) {
  // A later pcipass's field is skipped, so its files stay readable here.
  EXPECT_EQ(DeviceIdentity::parse("nvme-serial=S1 pcie-vpd-v2=X").value(), nvme("S1"));
  const auto bad_name = DeviceIdentity::parse("Serial=1");
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, ExitCode::bad_input);
  EXPECT_NE(bad_name.error().message.find("'Serial' is not a field name"), std::string::npos)
      << bad_name.error().message;
  const auto twice = DeviceIdentity::parse("dsn=1 dsn=2");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("appears twice"), std::string::npos);
  for (const char* bad : {"nvme-serial=A%4", "nvme-serial=A%zz", "nvme-serial=%", "dsn"}) {
    EXPECT_FALSE(DeviceIdentity::parse(bad)) << bad;
  }
  // A decoded control character cannot smuggle a line break into messages.
  EXPECT_EQ(DeviceIdentity::parse("vpd-serial=A%0AB").value().vpd_serial, "A B");
}

TEST(DeviceIdentity, JsonRoundTripsAndNullMeansUnknown) {
  const DeviceIdentity id = nvme("S1", "00-00-00-00-00-00-00-01");
  const nlohmann::json j = id.to_json();
  EXPECT_EQ(j["nvme_serial"], "S1");
  EXPECT_TRUE(j["mac"].is_null());
  EXPECT_EQ(DeviceIdentity::from_json(j).value(), id);
  EXPECT_EQ(DeviceIdentity::from_json(nlohmann::json(nullptr)).value(), DeviceIdentity{});
  EXPECT_FALSE(DeviceIdentity::from_json(nlohmann::json{{"dsn", 7}}));
  EXPECT_FALSE(DeviceIdentity::from_json(nlohmann::json::array()));
}

TEST(DeviceIdentity, OneDisagreeingSerialMakesAnotherDevice) {
  EXPECT_EQ(compare_identity(nvme("S1"), nvme("S1")), IdentityMatch::same);
  EXPECT_EQ(compare_identity(nvme("S1"), nvme("S2")), IdentityMatch::different);
  // The NVMe serial agrees, the DSN does not: not the same card.
  EXPECT_EQ(compare_identity(nvme("S1", "00-00-00-00-00-00-00-01"),
                             nvme("S1", "00-00-00-00-00-00-00-02")),
            IdentityMatch::different);
  // No serial known on both sides: only the ids can tell.
  EXPECT_EQ(compare_identity(nvme("S1"), nvme("", "00-00-00-00-00-00-00-01")),
            IdentityMatch::unknown);
  EXPECT_EQ(compare_identity(DeviceIdentity{}, nvme("S1")), IdentityMatch::unknown);
  // The slot says where, not what: twins swapped between slots keep them.
  DeviceIdentity in_slot_2 = nvme("S1");
  in_slot_2.slot = "2";
  DeviceIdentity in_slot_3 = nvme("S1");
  in_slot_3.slot = "3";
  EXPECT_EQ(compare_identity(in_slot_2, in_slot_3), IdentityMatch::same);
  DeviceIdentity slot_only;
  slot_only.slot = "2";
  EXPECT_EQ(compare_identity(slot_only, slot_only), IdentityMatch::unknown);
  EXPECT_FALSE(slot_only.has_serial());
}

TEST(DeviceIdentity, MessagesNameTheSerials) {
  EXPECT_EQ(identity_difference(nvme("S1"), nvme("S2")), "NVMe serial S2, not S1");
  EXPECT_EQ(identity_difference(nvme("S1"), nvme("S1")), "");
  EXPECT_EQ(nvme("S1", "00-00-00-00-00-00-00-01").serials(),
            "NVMe serial S1, DSN 00-00-00-00-00-00-00-01");
  DeviceIdentity slotted = nvme("S1");
  slotted.slot = "2";
  EXPECT_EQ(slotted.describe(), "NVMe serial S1, slot 2");
  EXPECT_EQ(slotted.serials(), "NVMe serial S1");
  DeviceIdentity slot_only;
  slot_only.slot = "2";
  EXPECT_EQ(slot_only.describe(), "no serial, slot 2");
  EXPECT_EQ(DeviceIdentity{}.describe(), "no serial");
}

TEST(DeviceIdentity, ComesFromTheControllerTheDsnAPermanentMacAndTheVpd) {
  PciDevice d;
  d.nvme = {{"nvme1", "Model", "FW", "  S7KHNJ0W100001  ", {}}};
  d.dsn = "00-25-38-4a-31-40-00-01";
  d.slot = "2";
  NetInterface set_by_bond{"bond-port", "up", "02:00:00:00:00:01", false};
  NetInterface permanent{"enp5s0", "up", "a0:36:9f:12:34:57", true};
  NetInterface second_port{"enp5s0d1", "up", "a0:36:9f:12:34:56", true};
  d.net = {set_by_bond, permanent, second_port};
  d.vpd_serial = "PBA-1";
  const DeviceIdentity id = identity_of(d, nullptr);
  EXPECT_EQ(id.nvme_serial, "S7KHNJ0W100001");
  EXPECT_EQ(id.dsn, "00-25-38-4a-31-40-00-01");
  // A MAC someone set is no identity; of several ports the lowest counts,
  // so a renamed interface does not change it.
  EXPECT_EQ(id.mac, "a0:36:9f:12:34:56");
  EXPECT_EQ(id.vpd_serial, "PBA-1");
  EXPECT_EQ(id.slot, "2");
}

TEST(DeviceIdentity, FoundByItsSerialsWhereverItSits) {
  PciDevice a;
  a.address = test::addr("0000:02:00.0");
  a.nvme = {{"nvme1", "M", "F", "S2", {}}};
  PciDevice b;
  b.address = test::addr("0000:03:00.0");
  b.nvme = {{"nvme2", "M", "F", "S1", {}}};
  const Inventory inventory = test::inventory_of({a, b});
  const PciAddress was = test::addr("0000:02:00.0");
  EXPECT_EQ(find_by_identity(inventory, nvme("S1"), was),
            std::vector<PciAddress>{test::addr("0000:03:00.0")});
  EXPECT_TRUE(find_by_identity(inventory, nvme("S9"), was).empty());
  EXPECT_TRUE(find_by_identity(inventory, DeviceIdentity{}, was).empty());
  // Functions of one card share a DSN: only the recorded function number counts.
  PciDevice gpu = test::device("0000:2d:00.0", 0x1002, 0x73ff, 0x030000, "amdgpu", 15);
  gpu.dsn = "00-00-00-00-00-00-2d-01";
  PciDevice audio = test::device("0000:2d:00.1", 0x1002, 0xab28, 0x040300, "snd_hda_intel", 15);
  audio.dsn = gpu.dsn;
  const Inventory card = test::inventory_of({gpu, audio});
  EXPECT_EQ(find_by_identity(card, identity_of(gpu, nullptr), test::addr("0000:0b:00.0")),
            std::vector<PciAddress>{test::addr("0000:2d:00.0")});
}

// Two identical SR-IOV cards: PF 02:00.0 (DSN ...01) with VFs 02:02.0 and
// 02:02.1, PF 03:00.0 (DSN ...02) with VF 03:02.0. The VFs have no serials
// of their own.
Inventory twin_cards() {
  std::vector<PciDevice> devices;
  const auto card = [&](const char* pf_address, const char* dsn, std::vector<const char*> vfs) {
    PciDevice pf = test::device(pf_address, 0x8086, 0x1572, 0x020000, "i40e", 1);
    pf.dsn = dsn;
    pf.slot = std::string("slot ") + pf_address;
    for (const char* vf_address : vfs) {
      PciDevice vf = test::device(vf_address, 0x8086, 0x154c, 0x020000, "iavf", 2);
      vf.physical_function = pf.address;
      pf.virtual_functions.push_back(vf.address);
      devices.push_back(vf);
    }
    devices.push_back(pf);
  };
  card("0000:02:00.0", "3c-fd-fe-ff-ff-a0-00-01", {"0000:02:02.0", "0000:02:02.1"});
  card("0000:03:00.0", "3c-fd-fe-ff-ff-a0-00-02", {"0000:03:02.0"});
  return test::inventory_of(std::move(devices));
}

TEST(DeviceIdentity, AVfIsKnownByItsCardsSerialsAndItsNumber) {
  const Inventory cards = twin_cards();
  const PciDevice& vf1 = *cards.find(test::addr("0000:02:02.1"));
  const DeviceIdentity id = identity_of(vf1, cards);
  EXPECT_EQ(id.dsn, "3c-fd-fe-ff-ff-a0-00-01");
  EXPECT_EQ(id.vf, "1");
  EXPECT_EQ(id.slot, "slot 0000:02:00.0");
  EXPECT_EQ(id.serials(), "DSN 3c-fd-fe-ff-ff-a0-00-01, VF 1");
  EXPECT_EQ(id.to_text(), "dsn=3c-fd-fe-ff-ff-a0-00-01 vf=1 slot=slot%200000:02:00.0");
  EXPECT_EQ(DeviceIdentity::parse(id.to_text()).value(), id);
  EXPECT_EQ(id.to_json()["vf"], 1);
  EXPECT_EQ(DeviceIdentity::from_json(id.to_json()).value(), id);
  // Alone, a VF shows none of it; a PF is no VF.
  EXPECT_EQ(identity_of(vf1, nullptr), DeviceIdentity{});
  EXPECT_EQ(identity_of(*cards.find(test::addr("0000:02:00.0")), cards).vf, "");
  // A serial of its own stays its own.
  PciDevice own = vf1;
  own.dsn = "3c-fd-fe-ff-ff-a0-00-09";
  EXPECT_EQ(identity_of(own, cards).dsn, "3c-fd-fe-ff-ff-a0-00-09");

  // VF 0 of the other card, and VF 0 of the same card, are other devices.
  const DeviceIdentity other_card = identity_of(*cards.find(test::addr("0000:03:02.0")), cards);
  const DeviceIdentity vf0 = identity_of(*cards.find(test::addr("0000:02:02.0")), cards);
  EXPECT_EQ(compare_identity(vf0, other_card), IdentityMatch::different);
  EXPECT_EQ(identity_difference(vf0, other_card),
            "DSN 3c-fd-fe-ff-ff-a0-00-02, not 3c-fd-fe-ff-ff-a0-00-01");
  EXPECT_EQ(compare_identity(vf0, id), IdentityMatch::different);
  EXPECT_EQ(identity_difference(vf0, id), "VF 1, not VF 0");
  EXPECT_EQ(compare_identity(vf0, vf0), IdentityMatch::same);
  // A number without serials vouches for nothing.
  DeviceIdentity number_only;
  number_only.vf = "0";
  EXPECT_EQ(compare_identity(number_only, number_only), IdentityMatch::unknown);

  // Found by card and number: not the PF, not the card's other VF.
  EXPECT_EQ(find_by_identity(cards, vf0, test::addr("0000:05:02.0")),
            std::vector<PciAddress>{test::addr("0000:02:02.0")});
  EXPECT_EQ(find_by_identity(cards, identity_of(*cards.find(test::addr("0000:02:00.0")), cards),
                             test::addr("0000:05:00.0")),
            std::vector<PciAddress>{test::addr("0000:02:00.0")});
}

TEST(DeviceIdentity, AVfNumberIsANumber) {
  for (const char* bad : {"vf=x", "vf=01", "vf=-1", "vf=65536", "vf=1.5", "vf="}) {
    const auto r = DeviceIdentity::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ExitCode::bad_input);
  }
  EXPECT_EQ(DeviceIdentity::parse("vf=65535").value().vf, "65535");
  EXPECT_EQ(DeviceIdentity::parse("vf=0").value().vf, "0");
  for (const nlohmann::json& bad : {nlohmann::json("1"), nlohmann::json(-1), nlohmann::json(65536),
                                    nlohmann::json(1.5)}) {
    EXPECT_FALSE(DeviceIdentity::from_json(nlohmann::json{{"vf", bad}})) << bad.dump();
  }
  EXPECT_EQ(DeviceIdentity::from_json(nlohmann::json{{"vf", 7}}).value().vf, "7");
}

TEST(DeviceIdentity, PlaceholderSerialsAreNoIdentity) {
  // Firmware without a serial writes zeros, ones or a stock phrase: such
  // values would make every device of the kind the same one.
  for (const char* none : {"00-00-00-00-00-00-00-00", "ff-ff-ff-ff-ff-ff-ff-ff", "0000000000",
                           "  ", "Not Specified", "To Be Filled By O.E.M.", "FFFFFFFF"}) {
    PciDevice d;
    d.nvme = {{"nvme0", "M", "F", none, {}}};
    d.dsn = none;
    d.vpd_serial = none;
    EXPECT_FALSE(identity_of(d, nullptr).has_serial()) << none;
  }
  PciDevice real;
  real.dsn = "00-25-38-4a-31-40-00-01";
  EXPECT_TRUE(identity_of(real, nullptr).has_serial());
}

TEST(DeviceIdentity, ARecordLearnsOnlyFromADeviceProvedToBeIt) {
  const DeviceIdentity before = nvme("S1", "00-00-00-00-00-00-00-01");
  // Proved by the DSN: the NVMe serial it hides on vfio-pci stays known,
  // the new slot is taken.
  DeviceIdentity hidden = nvme("", "00-00-00-00-00-00-00-01");
  hidden.slot = "4";
  const DeviceIdentity kept = carried_identity(before, hidden);
  EXPECT_EQ(kept.nvme_serial, "S1");
  EXPECT_EQ(kept.slot, "4");
  // Not proved (no serial in common): the record keeps its own serials and
  // takes none of the stranger's, which would vouch for it later.
  const DeviceIdentity only_s1 = nvme("S1");
  const DeviceIdentity stranger = nvme("", "00-00-00-00-00-00-00-02");
  EXPECT_EQ(carried_identity(only_s1, stranger), only_s1);
  EXPECT_EQ(carried_identity(DeviceIdentity{}, stranger), stranger);
  // Another device: what it shows.
  EXPECT_EQ(carried_identity(only_s1, nvme("S2")), nvme("S2"));
}

// A VPD image: identifier string, read-only section with `keywords`, end.
std::string vpd(const std::string& keywords) {
  std::string out = "\x82\x04";
  out += '\0';
  out += "Card";
  out += '\x90';
  out += static_cast<char>(keywords.size());
  out += '\0';
  out += keywords;
  out += '\x78';
  return out;
}

TEST(DeviceIdentity, VpdSerialIsTheReadOnlySectionsSn) {
  std::string sn = "PN";
  sn += '\x02';
  sn += "P1";
  sn += "SN";
  sn += '\x06';
  sn += " A123 ";
  sn += "RV";
  sn += '\x01';
  sn += '\0';
  EXPECT_EQ(parse_vpd_serial(vpd(sn)), "A123");
  std::string no_sn = "PN";
  no_sn += '\x02';
  no_sn += "P1";
  EXPECT_EQ(parse_vpd_serial(vpd(no_sn)), "");
  // Every prefix of a good image is malformed or complete: never a read
  // past its end, never a wrong serial.
  const std::string good = vpd(sn);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::string got = parse_vpd_serial(good.substr(0, n));
    EXPECT_TRUE(got.empty() || got == "A123") << n;
  }
  // A keyword whose length runs past its section is not read.
  std::string overlong = "SN";
  overlong += '\x40';
  overlong += "A123";
  EXPECT_EQ(parse_vpd_serial(vpd(overlong)), "");
  EXPECT_EQ(parse_vpd_serial(""), "");
  EXPECT_EQ(parse_vpd_serial("\x78"), "");
}

TEST(DeviceIdentity, DsnIsSpelledAsLspciSpellsIt) {
  EXPECT_EQ(format_dsn(0x4a314000u + 1, 0x00253800u), "00-25-38-00-4a-31-40-01");
}

}  // namespace
}  // namespace pcipass::core
