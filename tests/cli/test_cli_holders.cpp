// Who holds each device (issue 17): list shows the guests of the libvirt
// connection the devices came from, and plan with -c refuses (or, with
// --force, warns about) a device another guest holds. attach's refusal is
// in test_cli_attach.cpp.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

std::string hostdev(const std::string& bus) {
  return "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
         "bus='0x" + bus + "' slot='0x00' function='0x0'/></source></hostdev>";
}

// The simulated workstation as libvirt's test driver sees it, plus two
// guests: 'web' runs with the ZNS drive (02:00.0) and the USB controller
// (06:00.0, as a hostdev interface would name it: any PCI source counts);
// 'db' is off and names the ZNS drive too.
class Holders : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string node = file_text(sim_host("workstation") / "libvirt-test.xml");
    const std::string domains =
        "  <domain type='test'><name>web</name><memory>131072</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>" +
        hostdev("02") +
        "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' "
        "bus='0x06' slot='0x00' function='0x0'/></source></interface></devices></domain>\n"
        "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
        "<name>db</name><memory>131072</memory>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>" +
        hostdev("02") + "</devices><test:runstate>5</test:runstate></domain>\n";
    node.insert(node.rfind("</node>"), domains);
    put_file(m_file, node);
  }
  std::string uri() const { return "test://" + m_file.string(); }
  TempDir m_dir;
  fs::path m_file = m_dir.path() / "host.xml";
};

const nlohmann::json* device(const nlohmann::json& doc, const std::string& address) {
  for (const auto& d : doc["devices"]) {
    if (d["address"] == address) return &d;
  }
  return nullptr;
}

TEST_F(Holders, ListShowsTheGuestsHoldingEachDevice) {
  const auto table = run_pcipass({"-c", uri(), "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::string zns_row;
  std::string usb_row;
  std::string gpu_row;
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("0000:02:00.0")) zns_row = line;
    if (line.starts_with("0000:06:00.0")) usb_row = line;
    if (line.starts_with("0000:2d:00.0")) gpu_row = line;
  }
  EXPECT_NE(table.out.find("GUEST"), std::string::npos) << table.out;
  EXPECT_TRUE(zns_row.ends_with("guests 'db' and 'web' (running)")) << zns_row;
  EXPECT_TRUE(usb_row.ends_with("guest 'web' (running)")) << usb_row;
  EXPECT_TRUE(gpu_row.ends_with(" -")) << gpu_row;

  const auto json = run_pcipass({"-c", uri(), "--json", "list"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  const nlohmann::json* zns = device(doc, "0000:02:00.0");
  ASSERT_TRUE(zns);
  EXPECT_EQ((*zns)["held_by"],
            nlohmann::json::parse(R"([{"domain": "db", "running": false, "in_config": true,
                                       "in_live": false},
                                      {"domain": "web", "running": true, "in_config": true,
                                       "in_live": true}])"));
  EXPECT_EQ((*device(doc, "0000:2d:00.0"))["held_by"], nlohmann::json::array());

  // Devices read from a tree (here the simulated one) are never matched
  // with any libvirt's guests: held_by is unknown, and no column is shown.
  const std::string sys = (sim_host("workstation") / "sys").string();
  const auto from_sysfs = run_pcipass({"--sysfs-root", sys, "--json", "list"});
  ASSERT_EQ(from_sysfs.exit_code, 0) << from_sysfs.err;
  EXPECT_TRUE((*device(nlohmann::json::parse(from_sysfs.out), "0000:02:00.0"))["held_by"].is_null());
  const auto plain = run_pcipass({"--sysfs-root", sys, "list"});
  EXPECT_EQ(plain.out.find("GUEST"), std::string::npos);
}

TEST_F(Holders, GroupsShowTheGuestsHoldingEachMember) {
  const auto table = run_pcipass({"-c", uri(), "groups"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const std::size_t group9 = table.out.find("IOMMU group 9:");
  ASSERT_NE(group9, std::string::npos) << table.out;
  const std::size_t row = table.out.find("  0000:02:00.0", group9);
  ASSERT_NE(row, std::string::npos) << table.out;
  const std::string line = table.out.substr(row, table.out.find('\n', row) - row);
  EXPECT_TRUE(line.ends_with("guests 'db' and 'web' (running)")) << line;

  const auto json = run_pcipass({"-c", uri(), "--json", "groups"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);  // a range-for over a temporary's member dangles
  for (const auto& group : doc["groups"]) {
    for (const auto& member : group["members"]) {
      ASSERT_TRUE(member["held_by"].is_array()) << member.dump();
      EXPECT_EQ(member["held_by"].size(), member["address"] == "0000:02:00.0"   ? 2u
                                          : member["address"] == "0000:06:00.0" ? 1u
                                                                                : 0u)
          << member.dump();
    }
  }
}

TEST_F(Holders, PlanWithAConnectionChecksTheOtherGuests) {
  // The test driver's devices are not this machine's: --force is needed
  // anyway, and then each holder is a warning.
  const auto r = run_pcipass({"-c", uri(), "plan", "--guests", "lab", "0000:02:00.0", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("pcipass: warning: 0000:02:00.0 is held by guests 'db' and 'web' (running), "
                       "not 'lab'; it would be taken from a running guest (--force: going ahead)\n"),
            std::string::npos)
      << r.err;
  // For 'web', only the other guest counts.
  const auto own = run_pcipass({"-c", uri(), "plan", "--guests", "web", "0000:02:00.0", "--force"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_NE(own.err.find("pcipass: warning: 0000:02:00.0 is held by guest 'db', not 'web'; both "
                         "would claim it when they start (--force: going ahead)\n"),
            std::string::npos)
      << own.err;
}

}  // namespace
}  // namespace pcipass::test
