#include "fuzz/checks.hpp"

#include <pcipass/core/domain_xml.hpp>
#include <pcipass/core/dot_config.hpp>
#include <pcipass/core/kconfig_writer.hpp>
#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/lspci_parser.hpp>
#include <pcipass/core/nodes_yaml.hpp>
#include <pcipass/core/nodedev_xml.hpp>
#include <pcipass/core/pci_address.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/usage_report.hpp>

#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pcipass::fuzz {
namespace {

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz property violated: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The first line where two texts differ, both versions, and the whole first
// text: enough to see what moved without a diff tool.
std::string first_difference(std::string_view a, std::string_view b) {
  std::size_t line = 1;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) {
    if (a[i] == '\n') {
      ++line;
      start = i + 1;
    }
    ++i;
  }
  const auto line_at = [start](std::string_view s) {
    const std::size_t end = s.find('\n', start);
    return std::string(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
  };
  return "line " + std::to_string(line) + " was \"" + line_at(a) + "\", is \"" + line_at(b) +
         "\"; first text:\n" + std::string(a);
}

// Valid UTF-8 (no overlongs or surrogates), no C0/C1 control characters.
bool clean_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    const std::size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                         : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t k_min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < k_min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;
    i += len;
  }
  return true;
}

void check_device_strings(const core::PciDevice& d) {
  for (const std::string* s : {&d.vendor_name, &d.device_name, &d.subsystem_vendor_name,
                               &d.subsystem_name, &d.class_name, &d.driver}) {
    if (!clean_text(*s)) violated("unclean device string", *s);
  }
}

}  // namespace

void check_pci_address(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = core::PciAddress::parse(text);
  if (!parsed) {
    if (parsed.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", parsed.error().message);
    }
    return;
  }
  auto again = core::PciAddress::parse(parsed->to_string());
  if (!again || *again != *parsed) violated("to_string does not round-trip", text);
  auto libvirt = core::PciAddress::parse(parsed->libvirt_name());
  if (!libvirt || *libvirt != *parsed) violated("libvirt_name does not round-trip", text);
}

void check_lspci(const std::uint8_t* data, std::size_t size) {
  auto inventory = core::parse_lspci_vmm(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!inventory) {
    if (inventory.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", inventory.error().message);
    }
    return;
  }
  for (const auto& [address, device] : inventory->devices()) check_device_strings(device);
}

void check_nodedev_xml(const std::uint8_t* data, std::size_t size) {
  auto device = core::parse_nodedev_xml(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!device) {
    if (device.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", device.error().message);
    }
    return;
  }
  if (*device) check_device_strings(**device);
}

void check_sanitize(const std::uint8_t* data, std::size_t size) {
  const std::string out =
      core::sanitize_untrusted(std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.size() > core::k_max_untrusted_length) violated("longer than the cap", out);
  if (!clean_text(out)) violated("unclean output", out);
  // Sanitising its own output changes nothing, cut values included.
  if (core::sanitize_untrusted(out) != out) violated("not idempotent", out);
}

void check_domain_xml(const std::uint8_t* data, std::size_t size) {
  static constexpr std::string_view k_template =
      "<hostdev mode='subsystem' type='pci' managed='yes'>\n  <driver name='vfio'/>\n  <source>\n"
      "    <address domain='0x0000' bus='0x00' slot='0x00' function='0x0'/>\n  </source>\n"
      "  <alias name='ua-pcipass-0000-00-00-0'/>\n</hostdev>";
  auto domain = core::DomainXml::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!domain) return;
  const core::PciAddress address{0, 0x2d, 0, 1};
  const std::string before = domain->to_string();
  bool present_before = false;
  for (const auto& h : domain->pci_hostdevs()) present_before |= h.address == address;
  auto change = domain->add_hostdev(address, k_template);
  if (!change) violated("add_hostdev failed on a parsed domain", change.error().message);
  auto reparsed = core::DomainXml::parse(domain->to_string());
  if (!reparsed) violated("document not well-formed after add", domain->to_string());
  std::size_t count = 0;
  for (const auto& h : reparsed->pci_hostdevs()) count += h.address == address ? 1 : 0;
  if (count < 1 || (!present_before && count != 1)) violated("hostdev count after add", domain->to_string());
  if (*change == core::HostdevChange::added) {
    if (domain->remove_hostdev(address) != core::HostdevChange::removed) {
      violated("added hostdev not removable", domain->to_string());
    }
    if (domain->to_string() != before) violated("add then remove changed the document", before);
  } else if (domain->to_string() != before) {
    violated("a refused add changed the document", before);
  }
}

void check_nodes_yaml(const std::uint8_t* data, std::size_t size) {
  auto guests = core::parse_nodes_yaml(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!guests) {
    if (guests.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", guests.error().message);
    }
    return;
  }
  for (const auto& guest : *guests) {
    if (guest.name.empty()) violated("guest without a name", "");
  }
}

void check_dot_config(const std::uint8_t* data, std::size_t size) {
  auto config = core::DotConfig::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!config) {
    if (config.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", config.error().message);
    }
    return;
  }
  auto choices = core::read_passthrough_choices(*config);
  if (!choices && choices.error().message.find('\n') != std::string::npos) {
    violated("multi-line error message", choices.error().message);
  }
}

void check_kconfig_quote(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string quoted = core::kconfig_quote(input);
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') {
    violated("not one double-quoted literal", quoted);
  }
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    const char c = quoted[i];
    // Backquotes are harmless to Kconfig; kconfig_safe_text (below) removes
    // them from device strings for the shells that later read .config.
    if (c == '$' || c == '\n' || c == '\r') violated("dangerous character in literal", quoted);
    if (c == '"') violated("unescaped quote ends the literal early", quoted);
    if (c == '\\') {
      ++i;  // an escape: the next character is literal
      if (i + 1 >= quoted.size()) violated("escape swallows the closing quote", quoted);
    }
  }
  const std::string safe = core::kconfig_safe_text(input);
  for (char c : safe) {
    if (c == '$' || c == '"' || c == '\\' || c == '`' || c == '\n') violated("unsafe text", safe);
  }
  if (!clean_text(safe)) violated("unclean safe text", safe);
}

namespace {

// Reads a fuzz input as small numbers and NUL-separated strings.
class InputReader {
 public:
  InputReader(const std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
  std::uint8_t byte() { return m_pos < m_size ? m_data[m_pos++] : 0; }
  std::string text() {
    std::string out;
    while (m_pos < m_size && m_data[m_pos] != 0 && out.size() < 300)
      out += static_cast<char>(m_data[m_pos++]);
    if (m_pos < m_size) ++m_pos;
    return out;
  }

 private:
  const std::uint8_t* m_data;
  std::size_t m_size;
  std::size_t m_pos = 0;
};

core::Inventory fuzzed_inventory(InputReader& in) {
  static constexpr std::uint32_t k_classes[] = {0x010802, 0x020000, 0x030000,
                                                0x060400, 0x040300, 0x060000};
  core::Inventory inventory;
  const int count = 1 + in.byte() % 5;
  for (int i = 0; i < count; ++i) {
    const std::uint8_t flags = in.byte();
    core::PciDevice d;
    d.address.bus = in.byte();
    d.address.slot = in.byte() % 32;
    d.address.function = in.byte() % 8;
    d.class_code = k_classes[in.byte() % std::size(k_classes)];
    d.header = core::header_kind_from_class(d.class_code);
    if ((flags & 1) == 0) d.iommu_group = in.byte() % 3;
    if ((flags & 4) == 0) {
      d.vendor_id = static_cast<std::uint16_t>(in.byte() << 8 | in.byte());
      d.device_id = static_cast<std::uint16_t>(in.byte() << 8 | in.byte());
    }
    // Device strings arrive sanitized from every source; the writer must
    // still make them safe for Kconfig, make and shell.
    d.vendor_name = core::sanitize_untrusted(in.text());
    d.device_name = core::sanitize_untrusted(in.text());
    d.subsystem_name = core::sanitize_untrusted(in.text());
    d.class_name = core::sanitize_untrusted(in.text());
    d.human_name = core::sanitize_untrusted(in.text());
    d.driver = core::sanitize_untrusted(in.text());
    if (flags & 2) d.host_uses.push_back(core::sanitize_untrusted(in.text()));
    inventory.add(std::move(d));
  }
  inventory.rebuild_groups();
  return inventory;
}

// A Kconfig string literal at the start of `rest` that ends the line.
bool whole_literal(std::string_view rest) {
  if (rest.size() < 2 || rest.front() != '"') return false;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    if (rest[i] == '\\') {
      ++i;
      continue;
    }
    if (rest[i] == '"') return i + 1 == rest.size();
  }
  return false;
}

bool is_symbol(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// `expected`: per candidate in address order, whether it has ids (only
// then does the generator write its _VENDOR_DEVICE symbol).
void check_kconfig_text(const core::GeneratedKconfig& generated, const std::vector<bool>& expected) {
  const std::string& text = generated.text;
  if (!text.empty() && text.back() != '\n') violated("no final newline", text);
  std::multiset<std::string> symbols;
  bool in_help = false;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    for (char c : line) {
      if (c == '$' || c == '`' || (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)))
        violated("dangerous character in the generated Kconfig", line);
    }
    std::string visible;
    for (char c : line) {
      if (c != '\t') visible += c;
    }
    if (!clean_text(visible)) violated("invalid UTF-8 in the generated Kconfig", line);
    if (in_help && (line.starts_with("\t  ") || line.empty())) continue;
    in_help = false;
    if (line.empty() || line.starts_with("#") || line == "if KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH" ||
        line == "endif # KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH" || line == "\tstring" ||
        line == "\tdefault n") {
      continue;
    }
    if (line == "\thelp") {
      in_help = true;
      continue;
    }
    if (line.starts_with("config ")) {
      if (!is_symbol(line.substr(7))) violated("bad config symbol", line);
      symbols.insert(std::string(line.substr(7)));
      continue;
    }
    if (line.starts_with("\tdepends on ") && is_symbol(line.substr(12))) continue;
    if (line.starts_with("\tdefault ") &&
        (is_symbol(line.substr(9)) || whole_literal(line.substr(9)))) {
      continue;
    }
    if (line.starts_with("\tbool ") && whole_literal(line.substr(6))) continue;
    if (line.starts_with("\tstring  ") && whole_literal(line.substr(9))) continue;
    if (line.starts_with("comment ") && whole_literal(line.substr(8))) continue;
    violated("a line of unexpected shape in the generated Kconfig", line);
  }

  if (generated.candidates != expected.size()) violated("candidate count differs", text);
  std::multiset<std::string> wanted;
  wanted.insert(std::string(core::k_passthrough_prefix) + "_NUM_DEVICES");
  wanted.insert(std::string(core::k_passthrough_prefix) + "_HIGHEST_NUMBER");
  // The offered numbers, in address order (the order `expected` is in).
  std::map<core::PciAddress, std::size_t> offered;
  for (const auto& [number, record] : generated.ledger.records) {
    if (record.offered) offered[record.address] = number;
  }
  if (offered.size() != expected.size()) violated("offered numbers differ from candidates", text);
  std::size_t i = 0;
  for (const auto& [address, number] : offered) {
    const std::string base = core::passthrough_symbol(number);
    wanted.insert(base);
    for (const char* suffix : {"_TARGET_GUEST", "_PCI_ID", "_SDEVICE", "_NAME", "_IOMMUGROUP",
                               "_DOMAIN", "_BUS", "_SLOT", "_FUNCTION"}) {
      wanted.insert(base + suffix);
    }
    if (i < expected.size() && expected[i]) wanted.insert(base + "_VENDOR_DEVICE");
    ++i;
  }
  if (symbols != wanted) violated("config symbols differ from ten per candidate", text);

  // The file is its own record: read back, it gives the same numbers.
  auto ledger = core::read_number_ledger(text, "generated");
  if (!ledger) {
    violated("the generated file's numbers cannot be read back", ledger.error().message + "\n" + text);
  }
  if (ledger->records.size() != generated.ledger.records.size() ||
      ledger->highest_given != generated.ledger.highest_given) {
    violated("the numbers read back differ from those written", text);
  }
  for (const auto& [number, record] : generated.ledger.records) {
    const auto it = ledger->records.find(number);
    if (it == ledger->records.end() || it->second.address != record.address ||
        it->second.offered != record.offered) {
      violated("a number read back means another device", text);
    }
  }
}

// Generating again from the file itself gives the same text: numbers are
// kept, for any inventory.
void check_kconfig_stable(const core::Inventory& inventory, core::KconfigOptions options,
                          const std::string& text) {
  auto ledger = core::read_number_ledger(text, "generated");
  if (!ledger) return;  // reported by check_kconfig_text
  options.previous = &*ledger;
  const std::string again = core::generate_passthrough_kconfig(inventory, options).text;
  if (again != text) {
    violated("a second run over the same inventory changed the generated file",
             first_difference(text, again));
  }
}

}  // namespace

void check_kconfig_writer(const std::uint8_t* data, std::size_t size) {
  InputReader in(data, size);
  const core::Inventory inventory = fuzzed_inventory(in);
  std::set<unsigned> host_groups;
  for (const auto& [address, d] : inventory.devices()) {
    if (d.host_in_use() && d.iommu_group) host_groups.insert(*d.iommu_group);
  }
  std::vector<bool> all;
  std::vector<bool> free;
  for (const auto& [address, d] : inventory.devices()) {
    if (d.stays_with_platform() || !d.iommu_group) continue;
    all.push_back(!d.ids().empty());
    if (!host_groups.contains(*d.iommu_group)) free.push_back(!d.ids().empty());
  }
  core::KconfigOptions options;
  options.source_label = core::sanitize_untrusted(in.text());
  const core::GeneratedKconfig first = core::generate_passthrough_kconfig(inventory, options);
  check_kconfig_text(first, free);
  check_kconfig_stable(inventory, options, first.text);
  options.host_devices = core::HostDevices::include;
  const core::GeneratedKconfig second = core::generate_passthrough_kconfig(inventory, options);
  check_kconfig_text(second, all);
  check_kconfig_stable(inventory, options, second.text);
}

void check_identity(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto identity = core::DeviceIdentity::parse(text);
  if (!identity) {
    if (identity.error().message.find('\n') != std::string::npos) {
      violated("multi-line error message", identity.error().message);
    }
  } else {
    const std::string printed = identity->to_text();
    for (char c : printed) {
      if (c == '"' || c == '\\' || c == '$' || c == '`' || static_cast<unsigned char>(c) < 0x20) {
        violated("to_text holds a character Kconfig or a shell reads specially", printed);
      }
    }
    auto again = core::DeviceIdentity::parse(printed);
    if (!again || *again != *identity) violated("to_text does not round-trip", printed);
    auto json = core::DeviceIdentity::from_json(identity->to_json());
    if (!json || *json != *identity) violated("to_json does not round-trip", printed);
  }
  const std::string serial = core::parse_vpd_serial(text);
  if (serial != core::sanitize_untrusted(serial) || serial.find('\n') != std::string::npos) {
    violated("VPD serial is not sanitised text", serial);
  }
}

void check_usage_report(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto report = core::parse_usage_report(text);
  if (!report) {
    if (report.error().message.find('\n') != std::string::npos)
      violated("multi-line error message", report.error().message);
    if (report.error().code != core::ExitCode::bad_input)
      violated("a malformed report is not bad input", report.error().message);
    return;
  }
  core::Inventory inventory;
  for (const auto& [address, reported] : report->devices) {
    for (const std::string& use : reported.host_uses) {
      if (use != core::sanitize_untrusted(use)) violated("host use is not sanitised", use);
    }
    if (reported.host_usage_unknown != core::sanitize_untrusted(reported.host_usage_unknown))
      violated("host_usage_unknown is not sanitised", reported.host_usage_unknown);
    core::PciDevice d;
    d.address = address;
    d.vendor_id = reported.vendor_id;
    d.device_id = reported.device_id;
    inventory.add(d);
  }
  core::Inventory more = inventory;
  core::PciDevice extra;
  extra.address = core::PciAddress{0xffff, 0xff, 0x1f, 7};
  if (report->devices.count(extra.address) == 0) {
    more.add(extra);
    if (core::apply_usage_report(more, *report, "fuzz", nullptr))
      violated("a device more was accepted", "");
    for (const auto& [address, d] : more.devices()) {
      if (!d.host_uses.empty()) violated("a refused report changed the inventory", address.to_string());
    }
  }
  // A report that names a host is refused for another one, and never
  // changes the inventory then.
  core::HostIdentity twin = report->host;
  const auto other = [](std::string& field, const char* a, const char* b) {
    if (!field.empty()) field = field == a ? b : a;
  };
  other(twin.hostname, "twin-a", "twin-b");
  other(twin.machine_id, "00000000000000000000000000000001", "00000000000000000000000000000002");
  other(twin.system_uuid, "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002");
  twin.libvirt_uuid.clear();  // it only confirms a host, never tells two apart
  if (!report->host.empty()) {
    core::Inventory copy = inventory;
    if (core::apply_usage_report(copy, *report, "fuzz", &twin))
      violated("a report was accepted for another host", report->host.describe());
  }
  const core::HostIdentity* own = report->host.empty() ? nullptr : &report->host;
  if (auto applied = core::apply_usage_report(inventory, *report, "fuzz", own); !applied)
    violated("its own devices were refused", applied.error().message);
  for (const auto& [address, reported] : report->devices) {
    const core::PciDevice* d = inventory.find(address);
    if (d == nullptr || d->host_uses != reported.host_uses ||
        d->host_usage_unknown != reported.host_usage_unknown) {
      violated("a device did not get its reported usage", address.to_string());
    }
  }
}

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> targets = {
      {"pci_address", check_pci_address},
      {"lspci", check_lspci},
      {"nodedev_xml", check_nodedev_xml},
      {"sanitize", check_sanitize},
      {"domain_xml", check_domain_xml},
      {"nodes_yaml", check_nodes_yaml},
      {"dot_config", check_dot_config},
      {"kconfig_quote", check_kconfig_quote},
      {"kconfig_writer", check_kconfig_writer},
      {"identity", check_identity},
      {"usage_report", check_usage_report},
  };
  return targets;
}

}  // namespace pcipass::fuzz
