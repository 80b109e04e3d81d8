#include <pcipass/core/kconfig_writer.hpp>

#include <pcipass/core/human_name.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

namespace pcipass::core {
namespace {

// At most this many group members or virtual functions are listed in a help
// text; the rest are counted (an SR-IOV PF can have hundreds of VFs).
constexpr std::size_t k_max_listed = 16;

constexpr std::string_view k_fullwidth_quote = "\xef\xbc\x82";      // U+FF02 for "
constexpr std::string_view k_fullwidth_backslash = "\xef\xbc\xbc";  // U+FF3C for backslash
constexpr std::string_view k_fullwidth_dollar = "\xef\xbc\x84";     // U+FF04 for $
constexpr std::string_view k_fullwidth_grave = "\xef\xbd\x80";      // U+FF40 for `

constexpr std::string_view k_enable_symbol = "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH";

// The length of the UTF-8 sequence `lead` starts, 0 when it cannot start one.
std::size_t sequence_length(unsigned char lead) {
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF), which every Kconfig tool can read.
bool is_valid_utf8(std::string_view s) {
  static constexpr std::uint32_t k_smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = sequence_length(lead);
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = lead & (0x7fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < k_smallest[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// `text` as one line of a help block. Every line starts with the same tab
// and two spaces and holds no line break, so whatever the text says it
// cannot end the help block or start a new entry.
// Control characters become blanks and trailing blanks go, written straight
// into `out` (a 4096-function host has some 150k help lines).
void add_help_line(std::string& out, std::string_view text = {}) {
  const auto blank = [](char ch) { return ch == ' ' || is_control(static_cast<unsigned char>(ch)); };
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  if (text.empty()) {
    out += "\n";
    return;
  }
  out += "\t  ";
  const std::size_t start = out.size();
  out += text;
  for (std::size_t i = start; i < out.size(); ++i) {
    if (is_control(static_cast<unsigned char>(out[i]))) out[i] = ' ';
  }
  out += "\n";
}

// A `# ...` comment line; callers pass fixed text or kconfig_safe_text(), so
// it never ends in a backslash (kconfiglib would join the next line to it).
void add_comment_line(std::string& out, std::string_view text = {}) {
  out += text.empty() ? "#" : "# ";
  out += text;
  out += "\n";
}

// kconfig_quote(`text`) appended to `out`, without a string of its own;
// the runs between characters that need care are appended whole.
void append_quoted(std::string& out, std::string_view text) {
  std::string sanitized;
  if (!is_valid_utf8(text)) {
    sanitized = sanitize_untrusted(text);
    text = sanitized;
  }
  const auto special = [](char ch) {
    return is_control(static_cast<unsigned char>(ch)) || ch == '"' || ch == '\\' || ch == '$';
  };
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (!special(ch)) continue;
    out.append(text.substr(run, i - run));
    run = i + 1;
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '$') {
      out += k_fullwidth_dollar;
    } else {
      out += ' ';
    }
  }
  out.append(text.substr(run));
  out += '"';
}

// `config SYMBOL<suffix>` with a string default; pieces appended in place
// (nine per candidate, 37k on a 4096-function host).
void add_string_symbol(std::string& out, std::string_view symbol, std::string_view suffix,
                       std::string_view value) {
  out += "config ";
  out += symbol;
  out += suffix;
  out += "\n\tstring\n\tdefault ";
  append_quoted(out, value);
  out += "\n\n";
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

// What a person calls the device, never empty.
std::string display_name(const PciDevice& d) {
  if (!d.human_name.empty()) return kconfig_safe_text(d.human_name);
  if (!d.device_name.empty()) return kconfig_safe_text(d.device_name);
  if (!d.ids().empty()) return d.ids();
  return "unknown device";
}


std::string class_text(const PciDevice& d) {
  std::string out = d.class_name.empty() ? "unknown class" : kconfig_safe_text(d.class_name);
  if (d.class_code) out += " (" + hex(*d.class_code, 6) + ")";
  return out;
}

std::string host_uses_text(const PciDevice& d) {
  if (!d.host_in_use()) return kconfig_safe_text("host usage unknown: " + d.host_usage_unknown);
  std::vector<std::string> uses;
  for (const std::string& use : d.host_uses) uses.push_back(kconfig_safe_text(use));
  return join(uses, "; ");
}

class Writer {
 public:
  Writer(const Inventory& inventory, const KconfigOptions& options, const KconfigSink* sink)
      : m_inventory(inventory), m_options(options), m_sink(sink) {}

  NumberLedger numbers_only() {
    pick_candidates();
    return std::move(m_result.ledger);
  }

  GeneratedKconfig run() {
    m_result.has_iommu_groups = m_inventory.has_iommu_groups();
    pick_candidates();
    write_header();
    if (!m_result.has_iommu_groups) {
      m_out +=
          "comment \"No PCI-E passthrough candidates: this host has no IOMMU groups. Enable "
          "VT-d or AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on\"\n\n";
    } else if (m_candidates.empty()) {
      m_out += "comment \"No PCI-E passthrough candidates: " + no_candidates_reason() + "\"\n\n";
    } else {
      m_out += "if " + std::string(k_enable_symbol) + "\n\n";
      for (const PciDevice* d : m_candidates) {
        write_entry(m_numbering.numbers.at(d->address), *d);
        if (m_out.size() >= k_sink_chunk) flush();
      }
      m_out += "endif # " + std::string(k_enable_symbol) + "\n\n";
    }
    write_kept_numbers();
    add_string_symbol(m_out, k_passthrough_prefix, "_NUM_DEVICES",
                      std::to_string(m_highest_offered));
    // Outside the entries, so every .config records it: a run without the
    // previous file still never gives a number twice.
    add_string_symbol(m_out, k_passthrough_prefix, "_HIGHEST_NUMBER",
                      std::to_string(m_numbering.highest));
    m_result.candidates = m_candidates.size();
    if (m_sink != nullptr) {
      flush();
    } else {
      m_result.text = std::move(m_out);
    }
    return std::move(m_result);
  }

 private:
  // Hands the text so far to the sink, if there is one.
  void flush() {
    if (m_sink == nullptr || m_out.empty()) return;
    (*m_sink)(m_out);
    m_out.clear();
  }

  void pick_candidates() {
    for (const auto& [address, d] : m_inventory.devices()) {
      if (d.host_may_need() && d.iommu_group) m_host_groups[*d.iommu_group].push_back(&d);
    }
    for (const auto& [address, d] : m_inventory.devices()) {
      if (d.stays_with_platform() || !d.iommu_group) continue;
      ++m_endpoints;
      const bool host_related = d.host_may_need() || m_host_groups.contains(*d.iommu_group);
      if (host_related && m_options.host_devices == HostDevices::leave_out) {
        ++m_result.left_out;
        if (!known_used(d)) ++m_result.left_out_unknown;
        continue;
      }
      if (host_related) ++m_result.host_used_offered;
      if (host_related && !known_used(d)) ++m_result.host_unknown_offered;
      m_candidates.push_back(&d);
      m_offered.insert(address);
    }
    static const NumberLedger k_none;
    m_numbering = number_devices(
        m_inventory, [this](const PciDevice& d) { return m_offered.contains(d.address); },
        m_options.previous != nullptr ? *m_options.previous : k_none);
    for (const PciDevice* d : m_candidates) {
      m_highest_offered = std::max(m_highest_offered, m_numbering.numbers.at(d->address));
    }
    build_ledger();
  }

  // True when the host is known to use `d` or a member of its group, not
  // only perhaps.
  bool known_used(const PciDevice& d) const {
    if (d.host_in_use()) return true;
    const auto it = m_host_groups.find(*d.iommu_group);
    if (it == m_host_groups.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [](const PciDevice* member) { return member->host_in_use(); });
  }

  // What the ledger records for `d`: its serials now, plus those it hides
  // now but showed before (what `_IDENTITY` holds).
  DeviceIdentity recorded_identity(const PciDevice& d) const {
    const auto number = m_numbering.numbers.find(d.address);
    if (number != m_numbering.numbers.end()) {
      const auto it = m_result.ledger.records.find(number->second);
      if (it != m_result.ledger.records.end()) return it->second.identity;
    }
    return identity_of(d, m_inventory);
  }

  // The numbers the text gives and keeps, as a next run reads them back.
  void build_ledger() {
    NumberLedger& ledger = m_result.ledger;
    for (const auto& [address, number] : m_numbering.numbers) {
      const PciDevice& d = *m_inventory.find(address);
      NumberRecord& record = ledger.records[number];
      record.number = number;
      record.address = address;
      record.vendor_id = d.vendor_id;
      record.device_id = d.device_id;
      record.sdevice = kconfig_sdevice(d);
      record.identity = identity_of(d, m_inventory);
      // A serial the device showed before and hides now (on vfio-pci, the
      // NVMe serial goes with the nvme driver) stays in the record; an
      // unproven device adds none of its own.
      if (m_options.previous != nullptr) {
        const auto it = m_options.previous->records.find(number);
        if (it != m_options.previous->records.end() && it->second.address == address) {
          record.identity = carried_identity(it->second.identity, record.identity);
        }
      }
      record.offered = m_offered.contains(address);
      if (!record.offered) record.note = "not offered";
    }
    ledger.highest_given = m_numbering.highest;
    for (const NumberRecord& kept : m_numbering.retired) {
      ledger.records[kept.number] = kept;
      const NumberRecord* before = nullptr;
      if (m_options.previous != nullptr) {
        const auto it = m_options.previous->records.find(kept.number);
        if (it != m_options.previous->records.end()) before = &it->second;
      }
      if (before != nullptr && (before->offered || before->note == "not offered")) {
        m_result.newly_retired.push_back(kept);
      }
    }
  }

  // `# number NNNN ADDRESS IDS NOTE` for every number not offered: present
  // devices not offered, and devices gone or changed, so that no number is
  // ever given to another device.
  void write_kept_numbers() {
    bool any = false;
    for (const auto& [number, record] : m_result.ledger.records) {
      if (record.offered) continue;
      if (!any) {
        add_comment_line(m_out, "Numbers kept for devices not offered above, so that a number never");
        add_comment_line(m_out, "means another device (pcipass reads them back; do not edit):");
        any = true;
      }
      const std::string symbol = passthrough_symbol(number);
      std::string line =
          "number " + symbol.substr(k_passthrough_prefix.size() + 1) + " " + record.address.to_string();
      const std::string ids = record.ids_text();
      line += " " + (ids.empty() ? std::string("-") : ids);
      line += " " + record.note;
      // Without ids the subsystem name is all that tells devices apart.
      if (ids.empty() && !record.sdevice.empty()) {
        line += " | " + kconfig_safe_text(record.sdevice);
      }
      add_comment_line(m_out, line);
      if (const std::string identity = record.identity.to_text(); !identity.empty()) {
        add_comment_line(m_out, "identity " + symbol.substr(k_passthrough_prefix.size() + 1) + " " +
                                    identity);
      }
      if (m_out.size() >= k_sink_chunk) flush();
    }
    if (any) m_out += "\n";
  }

  std::string no_candidates_reason() const {
    if (m_endpoints == 0) return "this host has no endpoints in IOMMU groups";
    if (m_result.left_out_unknown == m_endpoints) {
      return "pcipass cannot tell whether the host uses any of its " +
             plural(m_endpoints, "endpoint", "endpoints") +
             " (pcipass kconfig --include-host-devices offers them anyway)";
    }
    const char* uses = m_result.left_out_unknown == 0 ? "the host uses all " : "the host may use all ";
    return uses + plural(m_endpoints, "endpoint", "endpoints") +
           " or a device in their IOMMU group (pcipass kconfig --include-host-devices offers "
           "them anyway)";
  }

  void write_header() {
    add_comment_line(m_out, "Automatically generated PCI-E passthrough Kconfig by pcipass");
    add_comment_line(m_out);
    if (!m_options.source_label.empty()) {
      add_comment_line(m_out, "Source: " + kconfig_safe_text(m_options.source_label));
    }
    add_comment_line(m_out, "Candidates: " + plural(m_candidates.size(), "endpoint", "endpoints") +
                                ", in PCI address order. Numbers are kdevops' the first");
    add_comment_line(m_out,
                     "time and kept from the previous file after that: a number never moves.");
    if (m_result.left_out > m_result.left_out_unknown) {
      add_comment_line(m_out, "Left out: " +
                                  plural(m_result.left_out - m_result.left_out_unknown,
                                         "endpoint", "endpoints") +
                                  " the host uses itself or through their IOMMU group;");
      add_comment_line(m_out, "pcipass kconfig --include-host-devices offers them with a warning.");
    }
    if (m_result.left_out_unknown > 0) {
      add_comment_line(m_out, "Left out: " +
                                  plural(m_result.left_out_unknown, "endpoint", "endpoints") +
                                  " whose use by the host pcipass cannot tell;");
      add_comment_line(m_out, "pcipass kconfig --include-host-devices offers them with a warning.");
    }
    if (m_result.host_used_offered > 0) {
      add_comment_line(m_out, "Offered although the host uses (or may use) them or their IOMMU group: " +
                                  std::to_string(m_result.host_used_offered) + ".");
    }
    add_comment_line(m_out,
                     "Regenerate with make dynconfig-pci or pcipass kconfig -o FILE; do not "
                     "edit.");
    m_out += "\n";
  }

  std::string symbol_of(const PciAddress& address) const {
    if (!m_offered.contains(address)) return {};
    return passthrough_symbol(m_numbering.numbers.at(address));
  }

  // How a group member or VF is described in another entry's help; made
  // once per device (a PF's line is in each of its 63 VFs' help).
  const std::string& member_line(const PciDevice& d) const {
    auto [it, inserted] = m_member_lines.try_emplace(d.address);
    if (inserted) it->second = make_member_line(d);
    return it->second;
  }

  std::string make_member_line(const PciDevice& d) const {
    std::string line = d.address.to_string() + " " + display_name(d);
    if (d.stays_with_platform()) return line + " - a bridge, stays with the host";
    if (d.host_in_use()) line += " - used by the host: " + host_uses_text(d);
    if (!d.host_in_use() && !d.host_usage_unknown.empty()) line += " - host usage unknown";
    const std::string symbol = symbol_of(d.address);
    return line + " - " + (symbol.empty() ? std::string("not offered") : symbol);
  }

  void write_list(std::string& out, const std::vector<const PciDevice*>& devices) const {
    for (std::size_t i = 0; i < devices.size() && i < k_max_listed; ++i) {
      add_help_line(out, "  " + member_line(*devices[i]));
    }
    if (devices.size() > k_max_listed) {
      add_help_line(out, "  ... and " + std::to_string(devices.size() - k_max_listed) +
                             " more, up to " + devices.back()->address.to_string());
    }
  }

  void write_device_help(std::string& out, const PciDevice& d,
                         const DeviceIdentity& identity) const {
    out += "\thelp\n";
    add_help_line(out, "Enabling this will PCI-E passthrough this device onto the");
    add_help_line(out, "target guest.");
    add_help_line(out);
    add_help_line(out, "Address:   " + d.address.to_string());
    // pcipass's name: the namespace behind an NVMe controller, a GPU's
    // memory, a NIC's interfaces.
    if (!d.human_name.empty()) add_help_line(out, "Known as:  " + kconfig_safe_text(d.human_name));
    add_help_line(out, "Class:     " + class_text(d));
    if (!d.ids().empty()) add_help_line(out, "Ids:       " + d.ids());
    if (!d.vendor_name.empty()) {
      add_help_line(out, "Vendor:    " + kconfig_safe_text(d.vendor_name));
    }
    if (!d.device_name.empty()) {
      add_help_line(out, "Device:    " + kconfig_safe_text(d.device_name));
    }
    if (!d.subsystem_name.empty()) {
      add_help_line(out, "Subsystem: " + kconfig_safe_text(d.subsystem_name));
    }
    add_help_line(out, "Driver:    " +
                           (d.driver.empty() ? std::string("none") : kconfig_safe_text(d.driver)));
    add_help_line(out, "Identity:  " + kconfig_safe_text(identity.describe()));
    if (d.reset_methods) {
      add_help_line(out, "Reset:     " + (d.cannot_reset()
                                             ? std::string("none: it keeps its state from one guest "
                                                           "to the next (pcipass doctor)")
                                             : kconfig_safe_text(join(*d.reset_methods, " "))));
    }

    const unsigned group_number = *d.iommu_group;
    std::vector<const PciDevice*> others;
    if (const IommuGroup* group = m_inventory.group(group_number)) {
      for (const PciAddress& a : group->members) {
        const PciDevice* member = m_inventory.find(a);
        if (member != nullptr && a != d.address) others.push_back(member);
      }
    }
    add_help_line(out);
    if (others.empty()) {
      add_help_line(out,
                    "IOMMU group " + std::to_string(group_number) + " holds only this device.");
    } else {
      add_help_line(out, "IOMMU group " + std::to_string(group_number) + " also holds " +
                             plural(others.size(), "function", "functions") +
                             ". A guest gets whole groups:");
      add_help_line(out, "select the endpoints below for the same guest.");
      write_list(out, others);
    }

    if (d.physical_function) {
      const PciDevice* pf = m_inventory.find(*d.physical_function);
      add_help_line(out);
      add_help_line(out, "SR-IOV virtual function of:");
      add_help_line(out,
                    "  " + (pf != nullptr ? member_line(*pf) : d.physical_function->to_string()));
    }
    if (!d.virtual_functions.empty()) {
      std::vector<const PciDevice*> vfs;
      for (const PciAddress& a : d.virtual_functions) {
        if (const PciDevice* vf = m_inventory.find(a)) vfs.push_back(vf);
      }
      add_help_line(out);
      add_help_line(
          out, "SR-IOV physical function with " +
                   plural(d.virtual_functions.size(), "virtual function:", "virtual functions:"));
      write_list(out, vfs);
    }

    if (d.host_in_use()) {
      add_help_line(out);
      add_help_line(out, "WARNING: the host itself uses this device:");
      for (const std::string& use : d.host_uses) add_help_line(out, "  " + kconfig_safe_text(use));
    } else if (!d.host_usage_unknown.empty()) {
      add_help_line(out);
      add_help_line(out, "WARNING: pcipass cannot tell whether the host needs this device:");
      add_help_line(out, "  " + kconfig_safe_text(d.host_usage_unknown));
    } else if (const auto it = m_host_groups.find(group_number); it != m_host_groups.end()) {
      add_help_line(out);
      add_help_line(out, "WARNING: the host uses a device in the same IOMMU group:");
      for (const PciDevice* user : it->second) {
        add_help_line(out, "  " + user->address.to_string() + ": " + host_uses_text(*user));
      }
    }
  }

  void write_entry(std::size_t number, const PciDevice& d) {
    const std::string symbol = passthrough_symbol(number);
    const std::string address = d.address.to_string();
    const std::string group = std::to_string(*d.iommu_group);
    std::string warning;
    if (d.host_in_use()) {
      warning = "WARNING used by the host - ";
    } else if (!d.host_usage_unknown.empty()) {
      warning = "WARNING host usage unknown - ";
    } else if (m_host_groups.contains(*d.iommu_group)) {
      warning = "WARNING group used by the host - ";
    }
    // kdevops' own name of the device, so a kdevops user finds it where
    // they expect; pcipass's richer facts are in the help text.
    const std::string name =
        address + " IOMMU group " + group + " - " + warning + kconfig_safe_text(kdevops_display_name(d));
    const std::string sdevice = kconfig_sdevice(d);
    // The ledger's identity: what the device showed now, plus serials it
    // showed before and hides now.
    const DeviceIdentity identity = recorded_identity(d);

    m_out += "config ";
    m_out += symbol;
    m_out += "\n\tbool ";
    append_quoted(m_out, name);
    m_out += "\n\tdefault n\n";
    write_device_help(m_out, d, identity);
    m_out += "\n";

    m_out += "config ";
    m_out += symbol;
    m_out += "_TARGET_GUEST\n\tstring  ";
    append_quoted(m_out, "Target guest to offload " + sdevice);
    m_out += "\n\tdefault KDEVOPS_HOSTS_PREFIX\n\tdepends on ";
    m_out += symbol;
    m_out += "\n";
    m_out += "\tdepends on KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH\n";
    m_out += "\thelp\n";
    add_help_line(m_out, "The name of the guest that gets " + address + ". Every endpoint of");
    add_help_line(m_out, "IOMMU group " + group + " must go to the same guest.");
    m_out += "\n";

    add_string_symbol(m_out, symbol, "_PCI_ID", address);
    add_string_symbol(m_out, symbol, "_SDEVICE", sdevice);
    add_string_symbol(m_out, symbol, "_NAME", name);
    add_string_symbol(m_out, symbol, "_IOMMUGROUP", group);
    add_string_symbol(m_out, symbol, "_DOMAIN", hex(d.address.domain, 4));
    add_string_symbol(m_out, symbol, "_BUS", hex(d.address.bus, 2));
    add_string_symbol(m_out, symbol, "_SLOT", hex(d.address.slot, 2));
    add_string_symbol(m_out, symbol, "_FUNCTION", hex(d.address.function, 1));
    if (const std::string ids = d.ids(); !ids.empty()) {
      add_string_symbol(m_out, symbol, "_VENDOR_DEVICE", ids);
    }
    if (const std::string text = identity.to_text(); !text.empty()) {
      add_string_symbol(m_out, symbol, "_IDENTITY", text);
    }
  }

  const Inventory& m_inventory;
  const KconfigOptions& m_options;
  const KconfigSink* m_sink;  // null: the text goes into m_result.text
  GeneratedKconfig m_result;
  std::string m_out;
  std::vector<const PciDevice*> m_candidates;  // in address order
  std::set<PciAddress> m_offered;
  Numbering m_numbering;
  std::size_t m_highest_offered = 0;
  std::map<unsigned, std::vector<const PciDevice*>> m_host_groups;
  std::size_t m_endpoints = 0;
  mutable std::map<PciAddress, std::string> m_member_lines;
};

}  // namespace

GeneratedKconfig generate_passthrough_kconfig(const Inventory& inventory,
                                              const KconfigOptions& options) {
  return Writer(inventory, options, nullptr).run();
}

NumberLedger passthrough_numbers(const Inventory& inventory, const KconfigOptions& options) {
  return Writer(inventory, options, nullptr).numbers_only();
}

GeneratedKconfig write_passthrough_kconfig(const Inventory& inventory, const KconfigOptions& options,
                                           const KconfigSink& sink) {
  return Writer(inventory, options, &sink).run();
}

std::string kconfig_sdevice(const PciDevice& d) {
  // Quotes dropped, as kdevops' generator drops them.
  const auto unquoted = [](std::string text) {
    std::erase(text, '"');
    std::erase(text, '\'');
    return kconfig_safe_text(text);
  };
  // A name of nothing but quotes is no name (an empty _SDEVICE would make
  // the number ledger call the device changed on the next run).
  for (const std::string* name : {&d.subsystem_name, &d.device_name}) {
    if (std::string text = unquoted(*name); !text.empty()) return text;
  }
  return display_name(d);
}

std::string passthrough_symbol(std::size_t number) {
  char digits[24];
  char* end = std::to_chars(digits, digits + sizeof digits, number).ptr;
  std::string out(k_passthrough_prefix);
  out += '_';
  // At least four digits, as kdevops numbers them ("%04zu").
  for (auto n = end - digits; n < 4; ++n) out += '0';
  out.append(digits, end);
  return out;
}

std::string kconfig_safe_text(std::string_view untrusted) {
  std::string clean = sanitize_untrusted(untrusted);
  if (clean.find_first_of("\"\\$`") == std::string::npos) return clean;
  std::string out;
  out.reserve(clean.size());
  for (char ch : clean) {
    switch (ch) {
      case '"': out += k_fullwidth_quote; break;
      case '\\': out += k_fullwidth_backslash; break;
      case '$': out += k_fullwidth_dollar; break;
      case '`': out += k_fullwidth_grave; break;
      default: out += ch;
    }
  }
  return out;
}

std::string kconfig_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_quoted(out, text);
  return out;
}

}  // namespace pcipass::core
