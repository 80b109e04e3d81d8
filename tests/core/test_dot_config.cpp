// Reading a .config back: Kconfig's value syntax, clear errors with line
// numbers, and the passthrough choices in kdevops' scheme.

#include <pcipass/core/dot_config.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

DotConfig parsed(const std::string& text) {
  auto config = DotConfig::parse(text);
  EXPECT_TRUE(config.has_value()) << config.error().message;
  return std::move(config).value_or_throw();
}

std::string parse_error(const std::string& text) {
  auto config = DotConfig::parse(text, "build/.config");
  if (config) return "parsed";
  EXPECT_EQ(config.error().code, ExitCode::bad_input);
  return config.error().message;
}

std::string choices_error(const std::string& text) {
  auto choices = read_passthrough_choices(parsed(text));
  if (choices) return "read";
  EXPECT_EQ(choices.error().code, ExitCode::bad_input);
  return choices.error().message;
}

TEST(DotConfig, ReadsEveryValueFormKconfigWrites) {
  const DotConfig config = parsed(
      "#\n# Automatically generated file; DO NOT EDIT.\n#\n"
      "CONFIG_BOOL=y\n"
      "CONFIG_MOD=m\n"
      "# CONFIG_OFF is not set\n"
      "CONFIG_STR=\"a \\\"quoted\\\" back\\\\slash\"\n"
      "CONFIG_EMPTY=\"\"\n"
      "CONFIG_INT=-42\n"
      "CONFIG_HEX=0x1f\n"
      "\n"
      "# a comment\n"
      "CONFIG_CRLF=y\r\n"
      "CONFIG_LAST=\"no newline at the end\"");
  EXPECT_TRUE(config.is_yes("BOOL"));
  EXPECT_EQ(config.find("MOD")->value, "m");
  EXPECT_EQ(config.find("OFF")->value, "n");
  EXPECT_FALSE(config.is_yes("OFF"));
  EXPECT_EQ(config.find("STR")->value, "a \"quoted\" back\\slash");
  EXPECT_TRUE(config.find("STR")->quoted);
  EXPECT_EQ(config.find("STR")->line, 7u);
  EXPECT_EQ(config.find("EMPTY")->value, "");
  EXPECT_EQ(config.find("INT")->value, "-42");
  EXPECT_EQ(config.find("HEX")->value, "0x1f");
  EXPECT_TRUE(config.is_yes("CRLF"));
  EXPECT_EQ(config.find("LAST")->value, "no newline at the end");
  EXPECT_EQ(config.find("MISSING"), nullptr);
  EXPECT_EQ(config.values().size(), 9u);
}

TEST(DotConfig, LaterAssignmentWinsAndAQuotedYIsNotYes) {
  const DotConfig config = parsed("CONFIG_A=y\n# CONFIG_A is not set\nCONFIG_B=\"y\"\n");
  EXPECT_EQ(config.find("A")->value, "n");
  EXPECT_EQ(config.find("A")->line, 2u);
  EXPECT_FALSE(config.is_yes("B"));
}

TEST(DotConfig, MalformedLinesSayWhereAndWhat) {
  EXPECT_EQ(parse_error("CONFIG_A=y\nsource \"/etc/passwd\"\n"),
            "build/.config line 2: expected CONFIG_NAME=value, '# CONFIG_NAME is not set' or a "
            "comment, got 'source \"/etc/passwd\"'");
  EXPECT_EQ(parse_error("CONFIG_A\n"),
            "build/.config line 1: expected '=' after the symbol name in 'CONFIG_A'");
  EXPECT_EQ(parse_error("CONFIG_=y\n"), "build/.config line 1: malformed symbol name 'CONFIG_'");
  EXPECT_EQ(parse_error("CONFIG_A B=y\n"),
            "build/.config line 1: malformed symbol name 'CONFIG_A B'");
  EXPECT_EQ(parse_error("\n\nCONFIG_S=\"open\n"),
            "build/.config line 3: CONFIG_S: unterminated string");
  EXPECT_EQ(parse_error("CONFIG_S=\"ends in a backslash\\\"\n"),
            "build/.config line 1: CONFIG_S: unterminated string");
  EXPECT_EQ(parse_error("CONFIG_S=\"a\" \"b\"\n"),
            "build/.config line 1: CONFIG_S: unexpected text after the closing quote: ' \"b\"'");
  EXPECT_EQ(parse_error("CONFIG_S=\n"), "build/.config line 1: CONFIG_S has no value");
  EXPECT_EQ(parse_error("CONFIG_S=two words\n"),
            "build/.config line 1: CONFIG_S: expected y, m, n, a number or a quoted string, got "
            "'two words'");
}

TEST(DotConfig, MessagesQuoteHostileTextOnOneLine) {
  EXPECT_EQ(parse_error("garbage \x1b[31m\xff\n"),
            "build/.config line 1: expected CONFIG_NAME=value, '# CONFIG_NAME is not set' or a "
            "comment, got 'garbage \\x1b[31m\\xff'");
}

constexpr const char* k_device_0002 =
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002=y\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_TARGET_GUEST=\"kdevops-zns\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_PCI_ID=\"0000:2d:00.0\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_SDEVICE=\"Ultrastar DC ZN540\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_NAME=\"0000:2d:00.0 IOMMU group 15 - ZNS\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_IOMMUGROUP=\"15\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_DOMAIN=\"0x0000\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_BUS=\"0x2d\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_SLOT=\"0x00\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_FUNCTION=\"0x0\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_VENDOR_DEVICE=\"1b96:2600\"\n";

constexpr const char* k_device_0010 =
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010=y\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010_TARGET_GUEST=\"kdevops-cxl\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010_DOMAIN=\"0x0001\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010_BUS=\"0x3a\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010_SLOT=\"0x1f\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0010_FUNCTION=\"0x7\"\n";

constexpr const char* k_not_selected =
    "# CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001 is not set\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID=\"0000:01:00.0\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES=\"10\"\n";

std::string each_config() {
  return std::string(
             "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
             "# CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST is not set\n"
             "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n") +
         k_device_0010 + k_not_selected + k_device_0002;
}

TEST(PassthroughChoices, EachGivesEverySelectedDeviceItsOwnGuest) {
  const auto choices = read_passthrough_choices(parsed(each_config()));
  ASSERT_TRUE(choices) << choices.error().message;
  EXPECT_TRUE(choices->enabled);
  EXPECT_EQ(choices->technique, PassthroughTechnique::each);
  ASSERT_EQ(choices->devices.size(), 2u);
  const SelectedDevice& zns = choices->devices[0];  // by number, not by file order
  EXPECT_EQ(zns.number, 2u);
  EXPECT_EQ(zns.address.to_string(), "0000:2d:00.0");
  EXPECT_EQ(zns.iommu_group, 15u);
  EXPECT_EQ(zns.vendor_id, 0x1b96);
  EXPECT_EQ(zns.device_id, 0x2600);
  EXPECT_EQ(zns.name, "0000:2d:00.0 IOMMU group 15 - ZNS");
  EXPECT_EQ(zns.target_guest, "kdevops-zns");
  const SelectedDevice& cxl = choices->devices[1];
  EXPECT_EQ(cxl.number, 10u);
  EXPECT_EQ(cxl.address.to_string(), "0001:3a:1f.7");  // from the parts
  EXPECT_FALSE(cxl.iommu_group);
  EXPECT_FALSE(cxl.vendor_id);
  EXPECT_EQ(cxl.target_guest, "kdevops-cxl");
}

TEST(PassthroughChoices, SpecificSendsEverythingToTheOneHostName) {
  const auto choices = read_passthrough_choices(
      parsed(std::string("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
                         "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_SPECIFIC=y\n"
                         "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME=\"lab-xfs\"\n") +
             k_device_0002 + k_device_0010));
  ASSERT_TRUE(choices) << choices.error().message;
  EXPECT_EQ(choices->technique, PassthroughTechnique::specific);
  EXPECT_EQ(choices->target_hostname, "lab-xfs");
  ASSERT_EQ(choices->devices.size(), 2u);
  EXPECT_EQ(choices->devices[0].target_guest, "lab-xfs");
  EXPECT_EQ(choices->devices[1].target_guest, "lab-xfs");
}

TEST(PassthroughChoices, FirstAndRoundRobinLeaveTheGuestToThePlanner) {
  for (const auto& [symbol, technique] :
       {std::pair{"FIRST", PassthroughTechnique::first},
        std::pair{"ROUNDROBIN", PassthroughTechnique::roundrobin}}) {
    const auto choices = read_passthrough_choices(
        parsed(std::string("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
                           "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_") +
               symbol + "=y\n" + k_device_0002));
    ASSERT_TRUE(choices) << choices.error().message;
    EXPECT_EQ(choices->technique, technique);
    ASSERT_EQ(choices->devices.size(), 1u);
    EXPECT_EQ(choices->devices[0].target_guest, "");
  }
  EXPECT_STREQ(to_string(PassthroughTechnique::roundrobin), "roundrobin");
}

TEST(PassthroughChoices, DisabledPassthroughSelectsNothing) {
  const auto choices = read_passthrough_choices(parsed(
      std::string("# CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is not set\n") + k_device_0002));
  ASSERT_TRUE(choices) << choices.error().message;
  EXPECT_FALSE(choices->enabled);
  EXPECT_TRUE(choices->devices.empty());
  EXPECT_FALSE(read_passthrough_choices(parsed(""))->enabled);
}

TEST(PassthroughChoices, InconsistentChoicesSayWhichLine) {
  EXPECT_EQ(choices_error("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"),
            ".config line 1: KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is set but none of "
            "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST, _SPECIFIC, _EACH or _ROUNDROBIN is");
  EXPECT_EQ(choices_error("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
                          "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST=y\n"
                          "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n"),
            ".config line 3: KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH and "
            "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST are both set; the technique is a choice "
            "of one");
  EXPECT_EQ(choices_error("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
                          "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_SPECIFIC=y\n"
                          "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME=\"\"\n" +
                          std::string(k_device_0002)),
            ".config line 3: KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME is empty but "
            "technique specific needs a guest name");
}

std::string with_device_lines(const std::string& lines) {
  return "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
         "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n"
         "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007=y\n"
         "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_TARGET_GUEST=\"g\"\n" +
         lines;
}

TEST(PassthroughChoices, BadDeviceEntriesSayWhichLineAndWhy) {
  EXPECT_EQ(choices_error(with_device_lines("")),
            ".config line 3: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007 is selected but has no "
            "address: expected KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID or _DOMAIN, _BUS, "
            "_SLOT and _FUNCTION");
  EXPECT_EQ(choices_error(with_device_lines(
                "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID=\"0000:2d:20.0\"\n")),
            ".config line 5: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID: invalid PCI address "
            "'0000:2d:20.0': slot 0x20 is above 0x1f; expected DDDD:BB:SS.F (e.g. 0000:2d:00.0), "
            "BB:SS.F or pci_DDDD_BB_SS_F");
  const std::string parts =
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_DOMAIN=\"0x0000\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_BUS=\"0x2e\"\n"
      "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_SLOT=\"0x00\"\n";
  EXPECT_EQ(choices_error(with_device_lines(
                "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID=\"0000:2d:00.0\"\n" + parts +
                "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_FUNCTION=\"0x0\"\n")),
            ".config line 5: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID is 0000:2d:00.0 but "
            "_DOMAIN, _BUS, _SLOT and _FUNCTION say 0000:2e:00.0");
  EXPECT_EQ(choices_error(with_device_lines(
                parts + "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_FUNCTION=\"0x8\"\n")),
            ".config line 8: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_FUNCTION: expected a hex "
            "number from 0x0 to 0x7, got '0x8'");
  const std::string id = "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_PCI_ID=\"0000:2d:00.0\"\n";
  EXPECT_EQ(choices_error(with_device_lines(
                id + "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_IOMMUGROUP=\"None\"\n")),
            ".config line 6: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_IOMMUGROUP: expected an IOMMU "
            "group number, got 'None'");
  EXPECT_EQ(choices_error(with_device_lines(
                id + "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_VENDOR_DEVICE=\"8086\"\n")),
            ".config line 6: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_VENDOR_DEVICE: expected "
            "vendor:device such as 8086:15f3, got '8086'");
  EXPECT_EQ(choices_error("CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
                          "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n"
                          "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007=y\n"
                          "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_TARGET_GUEST=\"\"\n" +
                          id),
            ".config line 4: KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007 is selected for technique "
            "each but KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0007_TARGET_GUEST is empty");
}

}  // namespace
}  // namespace pcipass::core
