// The generated passthrough Kconfig: kdevops' symbol scheme, which devices
// are offered, the help texts, and that untrusted strings cannot change the
// file's structure. tests/cli/test_kconfig_tools.cpp parses it with the real
// Kconfig tools.

#include <pcipass/core/kconfig_writer.hpp>

#include "support/test_devices.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace pcipass::core {
namespace {

using test::addr;
using test::inventory_of;

PciDevice endpoint(const char* address, unsigned group, std::uint32_t class_code = 0x010802) {
  PciDevice d;
  d.address = addr(address);
  d.header = HeaderKind::endpoint;
  d.class_code = class_code;
  d.iommu_group = group;
  return d;
}

PciDevice bridge(const char* address, unsigned group) {
  PciDevice d = endpoint(address, group, 0x060400);
  d.header = HeaderKind::bridge;
  d.class_name = "PCI bridge";
  return d;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

// The prompt of the bool entry `symbol`, as written (with its quotes).
std::string prompt_line(const std::string& text, const std::string& symbol) {
  const std::size_t at = text.find("config " + symbol + "\n\tbool ");
  if (at == std::string::npos) return {};
  const std::size_t start = at + symbol.size() + 8 + 6;
  return text.substr(start, text.find('\n', start) - start);
}

TEST(KconfigSymbols, AreZeroPaddedToFourDigitsLikeKdevops) {
  EXPECT_EQ(passthrough_symbol(1), "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001");
  EXPECT_EQ(passthrough_symbol(42), "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0042");
  EXPECT_EQ(passthrough_symbol(4097), "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_4097");
  EXPECT_EQ(passthrough_symbol(12345), "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_12345");
}

TEST(KconfigQuote, EscapesQuotesAndBackslashesAndBreaksDollars) {
  EXPECT_EQ(kconfig_quote("plain text"), "\"plain text\"");
  EXPECT_EQ(kconfig_quote("a \"b\" c\\d"), "\"a \\\"b\\\" c\\\\d\"");
  EXPECT_EQ(kconfig_quote("x\\"), "\"x\\\\\"");  // cannot escape the closing quote
  EXPECT_EQ(kconfig_quote("$(shell,id) $HOME ${HOME}"),
            "\"\xef\xbc\x84(shell,id) \xef\xbc\x84HOME \xef\xbc\x84{HOME}\"");
  EXPECT_EQ(kconfig_quote("'single'"), "\"'single'\"");
  EXPECT_EQ(kconfig_quote(""), "\"\"");
}

TEST(KconfigQuote, KeepsEverythingOnOneLineInValidUtf8) {
  EXPECT_EQ(kconfig_quote("a\nconfig EVIL\r\tb\x7f"), "\"a config EVIL  b \"");
  EXPECT_EQ(kconfig_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(kconfig_quote("bad\xff"), "\"bad\xef\xbf\xbd\"");
  EXPECT_EQ(kconfig_quote("\xed\xa0\x80"),
            "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
}

TEST(KconfigSafeText, UsesFullwidthFormsForShellMakeAndYamlSpecials) {
  EXPECT_EQ(kconfig_safe_text("Evil \"X\" back\\slash $(shell,id) `id`"),
            "Evil \xef\xbc\x82X\xef\xbc\x82 back\xef\xbc\xbcslash \xef\xbc\x84(shell,id) "
            "\xef\xbd\x80id\xef\xbd\x80");
  EXPECT_EQ(kconfig_safe_text("  WD_BLACK SN850X\n 2000GB  "), "WD_BLACK SN850X  2000GB");
  EXPECT_EQ(kconfig_safe_text("it's <fine> & #ok"), "it's <fine> & #ok");
}

TEST(KconfigWriter, WritesKdevopsSchemeForOneDevice) {
  PciDevice zns = endpoint("0000:2d:00.0", 15);
  zns.vendor_id = 0x1b96;
  zns.device_id = 0x2600;
  zns.vendor_name = "Western Digital";
  zns.device_name = "Ultrastar DC ZN540 ZNS NVMe SSD";
  zns.class_name = "Non-Volatile memory controller";
  zns.driver = "nvme";
  zns.human_name = "/dev/nvme1n1 - WZS4C8T4TDSP303 with FW R1110021";
  zns.nvme = {{"nvme1", "WZS4C8T4TDSP303", "R1110021", "", {"nvme1n1"}}};
  const Inventory inventory = inventory_of({bridge("0000:00:01.2", 3), zns});

  const GeneratedKconfig generated =
      generate_passthrough_kconfig(inventory, {HostDevices::leave_out, "sysfs:/sys"});
  EXPECT_EQ(generated.candidates, 1u);
  EXPECT_EQ(generated.left_out, 0u);
  EXPECT_EQ(
      generated.text,
      "# Automatically generated PCI-E passthrough Kconfig by pcipass\n"
      "#\n"
      "# Source: sysfs:/sys\n"
      "# Candidates: 1 endpoint, in PCI address order. Numbers are kdevops' the first\n"
      "# time and kept from the previous file after that: a number never moves.\n"
      "# Regenerate with make dynconfig-pci or pcipass kconfig -o FILE; do not edit.\n"
      "\n"
      "if KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH\n"
      "\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n"
      "\tbool \"0000:2d:00.0 IOMMU group 15 - /dev/nvme1 - WZS4C8T4TDSP303 with FW "
      "R1110021\"\n"
      "\tdefault n\n"
      "\thelp\n"
      "\t  Enabling this will PCI-E passthrough this device onto the\n"
      "\t  target guest.\n"
      "\n"
      "\t  Address:   0000:2d:00.0\n"
      "\t  Known as:  /dev/nvme1n1 - WZS4C8T4TDSP303 with FW R1110021\n"
      "\t  Class:     Non-Volatile memory controller (0x010802)\n"
      "\t  Ids:       1b96:2600\n"
      "\t  Vendor:    Western Digital\n"
      "\t  Device:    Ultrastar DC ZN540 ZNS NVMe SSD\n"
      "\t  Driver:    nvme\n"
      "\t  Identity:  no serial\n"
      "\n"
      "\t  IOMMU group 15 holds only this device.\n"
      "\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_TARGET_GUEST\n"
      "\tstring  \"Target guest to offload Ultrastar DC ZN540 ZNS NVMe SSD\"\n"
      "\tdefault KDEVOPS_HOSTS_PREFIX\n"
      "\tdepends on KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n"
      "\tdepends on KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH\n"
      "\thelp\n"
      "\t  The name of the guest that gets 0000:2d:00.0. Every endpoint of\n"
      "\t  IOMMU group 15 must go to the same guest.\n"
      "\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault "
      "\"0000:2d:00.0\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_SDEVICE\n\tstring\n"
      "\tdefault \"Ultrastar DC ZN540 ZNS NVMe SSD\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_NAME\n\tstring\n"
      "\tdefault \"0000:2d:00.0 IOMMU group 15 - /dev/nvme1 - WZS4C8T4TDSP303 with FW "
      "R1110021\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_IOMMUGROUP\n\tstring\n\tdefault \"15\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_DOMAIN\n\tstring\n\tdefault \"0x0000\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_BUS\n\tstring\n\tdefault \"0x2d\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_SLOT\n\tstring\n\tdefault \"0x00\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_FUNCTION\n\tstring\n\tdefault \"0x0\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_VENDOR_DEVICE\n\tstring\n"
      "\tdefault \"1b96:2600\"\n\n"
      "endif # KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH\n"
      "\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES\n\tstring\n\tdefault \"1\"\n\n"
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_HIGHEST_NUMBER\n\tstring\n\tdefault \"1\"\n\n");
}

TEST(KconfigWriter, OffersEndpointsTheHostDoesNotUseNumberedByAddress) {
  PciDevice root_disk = endpoint("0000:01:00.0", 8);
  root_disk.host_uses = {"backs / (ext4 on /dev/nvme0n1p2)"};
  PciDevice gpu = endpoint("0000:2d:00.0", 15, 0x030000);
  gpu.host_uses = {"boot VGA device"};
  PciDevice gpu_audio = endpoint("0000:2d:00.1", 15, 0x040300);
  PciDevice host_bridge = endpoint("0000:00:00.0", 0, 0x060000);
  PciDevice no_group = endpoint("0000:07:00.0", 0);
  no_group.iommu_group.reset();
  // Added out of order: numbering must follow the address.
  const Inventory inventory =
      inventory_of({endpoint("0000:06:00.0", 14, 0x0c0330), gpu_audio, gpu, root_disk, host_bridge,
                    bridge("0000:00:01.1", 2), endpoint("0000:02:00.0", 9), no_group});

  const GeneratedKconfig generated = generate_passthrough_kconfig(inventory, {});
  EXPECT_EQ(generated.candidates, 2u);
  EXPECT_EQ(generated.left_out, 3u);  // the root disk, the GPU and its audio
  EXPECT_EQ(generated.host_used_offered, 0u);
  EXPECT_NE(generated.text.find("KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001_PCI_ID\n\tstring\n\tdefault "
                                "\"0000:02:00.0\""),
            std::string::npos);
  EXPECT_NE(generated.text.find("KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002_PCI_ID\n\tstring\n\tdefault "
                                "\"0000:06:00.0\""),
            std::string::npos);
  EXPECT_EQ(generated.text.find("_0003"), std::string::npos);
  EXPECT_NE(generated.text.find("# Left out: 3 endpoints the host uses itself or through their "
                                "IOMMU group;\n"),
            std::string::npos);
  EXPECT_NE(generated.text.find(
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES\n\tstring\n\tdefault \"2\"\n\n"),
            std::string::npos);
}

TEST(KconfigWriter, IncludeHostDevicesWarnsInPromptAndHelp) {
  PciDevice gpu = endpoint("0000:2d:00.0", 15, 0x030000);
  gpu.human_name = "Navi 23";
  gpu.host_uses = {"boot VGA device", "framebuffer console (fb0)"};
  PciDevice audio = endpoint("0000:2d:00.1", 15, 0x040300);
  audio.human_name = "HDMI Audio";
  const Inventory inventory = inventory_of({gpu, audio});

  const GeneratedKconfig generated =
      generate_passthrough_kconfig(inventory, {HostDevices::include, ""});
  EXPECT_EQ(generated.candidates, 2u);
  EXPECT_EQ(generated.left_out, 0u);
  EXPECT_EQ(generated.host_used_offered, 2u);
  EXPECT_EQ(prompt_line(generated.text, "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001"),
            "\"0000:2d:00.0 IOMMU group 15 - WARNING used by the host - GPU - Navi 23\"");
  EXPECT_EQ(prompt_line(generated.text, "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002"),
            "\"0000:2d:00.1 IOMMU group 15 - WARNING group used by the host - HDMI Audio\"");
  EXPECT_NE(generated.text.find("\t  WARNING: the host itself uses this device:\n"
                                "\t    boot VGA device\n"
                                "\t    framebuffer console (fb0)\n"),
            std::string::npos);
  EXPECT_NE(generated.text.find("\t  WARNING: the host uses a device in the same IOMMU group:\n"
                                "\t    0000:2d:00.0: boot VGA device; framebuffer console (fb0)\n"),
            std::string::npos);
  EXPECT_NE(generated.text.find("# Offered although the host uses (or may use) them or their IOMMU group: 2.\n"),
            std::string::npos);
}

TEST(KconfigWriter, HelpListsTheRestOfTheGroupWithTheirSymbols) {
  PciDevice gpu = endpoint("0000:2d:00.0", 15, 0x030000);
  gpu.human_name = "Navi 23";
  PciDevice audio = endpoint("0000:2d:00.1", 15, 0x040300);
  audio.human_name = "HDMI Audio";
  PciDevice port = bridge("0000:2c:00.0", 15);
  port.human_name = "Root Port";
  const Inventory inventory = inventory_of({gpu, audio, port});

  const std::string text = generate_passthrough_kconfig(inventory, {}).text;
  EXPECT_NE(text.find("\t  IOMMU group 15 also holds 2 functions. A guest gets whole groups:\n"
                      "\t  select the endpoints below for the same guest.\n"
                      "\t    0000:2c:00.0 Root Port - a bridge, stays with the host\n"
                      "\t    0000:2d:00.1 HDMI Audio - KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\t    0000:2d:00.0 Navi 23 - KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n"),
            std::string::npos);
}

TEST(KconfigWriter, HelpLinksPhysicalAndVirtualFunctionsAndCapsLongLists) {
  std::vector<PciDevice> devices;
  PciDevice pf = endpoint("0000:01:00.0", 2, 0x020000);
  pf.human_name = "X710";
  for (unsigned i = 1; i <= 20; ++i) {
    char address[16];
    std::snprintf(address, sizeof address, "0000:01:%02x.%u", i / 8, i % 8);
    PciDevice vf = endpoint(address, 2 + i, 0x020000);
    vf.human_name = "X710 VF";
    vf.physical_function = pf.address;
    pf.virtual_functions.push_back(vf.address);
    devices.push_back(vf);
  }
  devices.push_back(pf);
  const Inventory inventory = inventory_of(devices);

  const std::string text = generate_passthrough_kconfig(inventory, {}).text;
  EXPECT_NE(text.find("\t  SR-IOV physical function with 20 virtual functions:\n"
                      "\t    0000:01:00.1 X710 VF - KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0002\n"),
            std::string::npos);
  EXPECT_NE(text.find("\t    0000:01:02.0 X710 VF - KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0017\n"
                      "\t    ... and 4 more, up to 0000:01:02.4\n"),
            std::string::npos);
  EXPECT_NE(text.find("\t  SR-IOV virtual function of:\n"
                      "\t    0000:01:00.0 X710 - KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001\n"),
            std::string::npos);
}

TEST(KconfigWriter, SameHostGivesByteIdenticalText) {
  const auto make = [] {
    PciDevice a = endpoint("0000:02:00.0", 9);
    a.human_name = "drive";
    return inventory_of({endpoint("0000:06:00.0", 14), a, bridge("0000:00:01.1", 2)});
  };
  const std::string first = generate_passthrough_kconfig(make(), {}).text;
  EXPECT_EQ(generate_passthrough_kconfig(make(), {}).text, first);
}

TEST(KconfigWriter, StreamsTheSameTextInPiecesWithTheSameCounts) {
  std::vector<PciDevice> devices;
  for (unsigned i = 0; i < 200; ++i) {
    char address[16];
    std::snprintf(address, sizeof address, "0000:%02x:%02x.0", 1 + i / 32, i % 32);
    devices.push_back(endpoint(address, i));
  }
  PciDevice used = endpoint("0000:f0:00.0", 900);
  used.host_uses = {"/ is on it"};
  devices.push_back(used);
  const Inventory inventory = inventory_of(std::move(devices));
  KconfigOptions options;
  options.source_label = "sysfs:/sys";
  const GeneratedKconfig whole = generate_passthrough_kconfig(inventory, options);

  std::vector<std::string> pieces;
  const GeneratedKconfig streamed = write_passthrough_kconfig(
      inventory, options, [&](std::string_view piece) { pieces.emplace_back(piece); });
  EXPECT_TRUE(streamed.text.empty());
  EXPECT_EQ(streamed.candidates, whole.candidates);
  EXPECT_EQ(streamed.left_out, whole.left_out);
  EXPECT_EQ(streamed.host_used_offered, whole.host_used_offered);
  EXPECT_EQ(streamed.has_iommu_groups, whole.has_iommu_groups);
  ASSERT_GT(whole.text.size(), 2 * k_sink_chunk);
  EXPECT_GE(pieces.size(), 3u);  // never the whole file at once
  std::string joined;
  for (const std::string& piece : pieces) {
    EXPECT_FALSE(piece.empty());
    EXPECT_LT(piece.size(), 2 * k_sink_chunk);
    joined += piece;
  }
  EXPECT_EQ(joined, whole.text);
}

TEST(KconfigWriter, StreamsTheNoIommuTextToo) {
  PciDevice nic = endpoint("0000:00:03.0", 0, 0x020000);
  nic.iommu_group.reset();
  const Inventory inventory = inventory_of({nic});
  std::string joined;
  const GeneratedKconfig streamed =
      write_passthrough_kconfig(inventory, {}, [&](std::string_view piece) { joined += piece; });
  EXPECT_FALSE(streamed.has_iommu_groups);
  EXPECT_EQ(joined, generate_passthrough_kconfig(inventory, {}).text);
}

TEST(KconfigWriter, NoIommuGroupsGiveAVisibleCommentAndNoEntries) {
  PciDevice nic = endpoint("0000:00:03.0", 0, 0x020000);
  nic.iommu_group.reset();
  const Inventory inventory = inventory_of({nic});
  const GeneratedKconfig generated = generate_passthrough_kconfig(inventory, {});
  EXPECT_FALSE(generated.has_iommu_groups);
  EXPECT_EQ(generated.candidates, 0u);
  EXPECT_EQ(generated.text.find("\nconfig KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0"), std::string::npos);
  EXPECT_NE(generated.text.find(
                "\ncomment \"No PCI-E passthrough candidates: this host has no IOMMU groups. "
                "Enable VT-d or AMD-Vi in the firmware and boot with intel_iommu=on or "
                "amd_iommu=on\"\n"),
            std::string::npos);
  EXPECT_NE(generated.text.find(
      "config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES\n\tstring\n\tdefault \"0\"\n\n"),
            std::string::npos);
}

TEST(KconfigWriter, AllEndpointsUsedByTheHostGiveACommentSayingSo) {
  PciDevice disk = endpoint("0000:00:02.0", 0);
  disk.host_uses = {"backs /"};
  const GeneratedKconfig generated =
      generate_passthrough_kconfig(inventory_of({disk, endpoint("0000:00:03.0", 0)}), {});
  EXPECT_EQ(generated.candidates, 0u);
  EXPECT_EQ(generated.left_out, 2u);
  EXPECT_NE(generated.text.find(
                "\ncomment \"No PCI-E passthrough candidates: the host uses all 2 endpoints or a "
                "device in their IOMMU group (pcipass kconfig --include-host-devices offers them "
                "anyway)\"\n"),
            std::string::npos);
}

// Every line the writer produces, whatever the device strings, is one of the
// few shapes it means to write; nothing can start a new entry or end a help
// block early, and no `$` or line-joining backslash reaches the file.
TEST(KconfigWriter, HostileStringsCannotChangeTheStructure) {
  const std::string hostile =
      "Evil \"q\" \\\" x\\\n\thelp\nconfig EVIL\n\tdefault y\nendif\n$(shell,touch /tmp/x) $(FOO) "
      "$HOME ${HOME} `id` \xff\xfe\xc2\x85\xe2\x80\xa8 end\\";
  PciDevice d = endpoint("0000:01:00.0", 6);
  d.human_name = hostile;
  d.vendor_name = hostile;
  d.device_name = hostile;
  d.subsystem_name = hostile;
  d.class_name = hostile;
  d.driver = hostile;
  d.host_uses = {hostile};
  PciDevice mate = endpoint("0000:01:00.1", 6);
  mate.human_name = hostile;
  const Inventory inventory = inventory_of({d, mate});
  const std::string text =
      generate_passthrough_kconfig(inventory, {HostDevices::include, hostile}).text;

  EXPECT_EQ(text.find('$'), std::string::npos);
  EXPECT_EQ(text.find('`'), std::string::npos);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  const std::vector<std::string> allowed_starts = {"config KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_",
                                                   "\tbool \"",
                                                   "\tstring  \"",
                                                   "\tdefault ",
                                                   "\tdepends on ",
                                                   "\thelp",
                                                   "\t  ",
                                                   "# ",
                                                   "#",
                                                   "if ",
                                                   "endif # "};
  bool in_help = false;
  std::size_t configs = 0;
  for (const std::string& line : lines_of(text)) {
    EXPECT_FALSE(line.ends_with("\\")) << line;
    if (line.empty()) continue;
    if (line.starts_with("config ")) ++configs;
    if (in_help && !line.starts_with("\t  ")) in_help = false;
    if (line == "\thelp") in_help = true;
    const bool known = std::any_of(allowed_starts.begin(), allowed_starts.end(),
                                   [&](const std::string& s) { return line.starts_with(s); }) ||
                       line == "\tstring";
    EXPECT_TRUE(known) << line;
    // Quoted lines hold exactly one string: two unescaped quotes, the last at the end.
    if (line.starts_with("\tbool \"") || line.starts_with("\tstring  \"") ||
        line.starts_with("\tdefault \"")) {
      std::size_t quotes = 0;
      for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\')
          ++i;
        else if (line[i] == '"')
          ++quotes;
      }
      EXPECT_EQ(quotes, 2u) << line;
      EXPECT_TRUE(line.ends_with("\"")) << line;
    }
  }
  EXPECT_EQ(configs, 2u * 10u + 2u);  // two entries of 10 symbols (no ids), NUM_DEVICES, HIGHEST_NUMBER
  EXPECT_NE(text.find("Evil \xef\xbc\x82q\xef\xbc\x82 \xef\xbc\xbc\xef\xbc\x82 x\xef\xbc\xbc  help "
                      "config EVIL  default y endif \xef\xbc\x84(shell,touch /tmp/x) "
                      "\xef\xbc\x84(FOO) \xef\xbc\x84HOME \xef\xbc\x84{HOME} \xef\xbd\x80id"
                      "\xef\xbd\x80 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace pcipass::core
