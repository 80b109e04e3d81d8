#include <pcipass/core/lspci_parser.hpp>

#include <pcipass/core/text.hpp>

#include <array>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace pcipass::core {
namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// What libpci prints for an id pci.ids does not know: `Device 0d57`, or with
// -nn `Device [0d57]`. Both forms become the first, so that -nn and plain
// output (and PciNames' fallback) agree.
constexpr std::array<std::string_view, 6> k_unknown_name_words = {
    "Vendor", "Device", "Class", "Unknown vendor", "Unknown device", "Unknown class"};

struct NameAndId {
  std::string name;
  std::optional<std::uint16_t> id;
};

// Splits the ` [hhhh]` id lspci -nn appends. Only a trailing bracket, exactly
// four hex digits and bracket, after a space or alone, count: names contain
// brackets of their own (`GA102 [GeForce RTX 3080]`).
NameAndId split_name_and_id(std::string_view value) {
  constexpr std::size_t k_id_length = 6;  // "[hhhh]"
  if (value.size() >= k_id_length) {
    const std::string_view id_text = value.substr(value.size() - k_id_length);
    const std::string_view digits = id_text.substr(1, 4);
    std::string_view name = value.substr(0, value.size() - k_id_length);
    const bool is_id = id_text.front() == '[' && id_text.back() == ']' &&
                       is_hex_digit(digits[0]) && is_hex_digit(digits[1]) &&
                       is_hex_digit(digits[2]) && is_hex_digit(digits[3]) &&
                       (name.empty() || name.back() == ' ');
    if (is_id) {
      const auto id = static_cast<std::uint16_t>(parse_hex(digits).value_or(0));
      if (!name.empty()) name.remove_suffix(1);
      for (std::string_view word : k_unknown_name_words) {
        if (name == word) {
          char buf[8];
          std::snprintf(buf, sizeof buf, " %04x", id);
          return {sanitize_untrusted(std::string(name) + buf), id};
        }
      }
      return {sanitize_untrusted(name), id};
    }
  }
  return {sanitize_untrusted(value), std::nullopt};
}

// pci.ids' names of base class 0x06 (bridges), for output without -nn:
// every bridge stays with the platform, so text without class ids must not
// turn a host or ISA bridge into a candidate. The names are the PCI spec's
// and have not changed in pci.ids in decades.
struct BridgeClassName {
  std::string_view name;
  std::uint16_t class_id;
};
constexpr BridgeClassName k_bridge_class_names[] = {
    {"Host bridge", 0x0600},        {"ISA bridge", 0x0601},
    {"EISA bridge", 0x0602},        {"MicroChannel bridge", 0x0603},
    {"PCI bridge", 0x0604},         {"PCMCIA bridge", 0x0605},
    {"NuBus bridge", 0x0606},       {"CardBus bridge", 0x0607},
    {"RACEway bridge", 0x0608},     {"Semi-transparent PCI-to-PCI bridge", 0x0609},
    {"InfiniBand to PCI host bridge", 0x060a}, {"Bridge", 0x0680},
};

std::optional<std::uint16_t> bridge_class_id(std::string_view name) {
  for (const BridgeClassName& entry : k_bridge_class_names) {
    if (entry.name == name) return entry.class_id;
  }
  return std::nullopt;
}

// The record being read: the device so far and what is only known once the
// record ends.
struct Record {
  std::size_t first_line = 0;
  bool has_slot = false;
  PciDevice device;
  std::optional<std::uint16_t> class_id;
  std::uint8_t prog_if = 0;  // lspci leaves out a zero ProgIf
};

class LspciParser {
public:
  Result<Inventory> parse(std::string_view text) {
    std::size_t start = 0;
    std::size_t line_number = 0;
    while (start <= text.size()) {
      const std::size_t newline = text.find('\n', start);
      const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
      std::string_view line = text.substr(start, end - start);
      ++line_number;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (Status status = parse_line(line, line_number); !status) return fail(status.error());
      if (newline == std::string_view::npos) break;
      start = newline + 1;
    }
    if (Status status = finish_record(); !status) return fail(status.error());
    m_inventory.rebuild_groups();
    return std::move(m_inventory);
  }

private:
  static Unexpected bad(std::size_t line_number, const std::string& why) {
    return fail("lspci output line " + std::to_string(line_number) + ": " + why,
                ExitCode::bad_input);
  }

  Status parse_line(std::string_view line, std::size_t line_number) {
    if (trim(line).empty()) return finish_record();

    std::size_t key_end = 0;
    while (key_end < line.size() && is_key_char(line[key_end])) ++key_end;
    const bool has_separator =
        key_end > 0 && key_end < line.size() && line[key_end] == ':' &&
        (key_end + 1 == line.size() || line[key_end + 1] == '\t' || line[key_end + 1] == ' ');
    if (!has_separator) {
      return bad(line_number,
                 "expected 'Key:<tab>value' or a blank line, got " + quote_for_message(line));
    }
    const std::string_view key = line.substr(0, key_end);
    const std::string_view value =
        trim(key_end + 2 <= line.size() ? line.substr(key_end + 2) : std::string_view{});

    if (!m_record) {
      m_record.emplace();
      m_record->first_line = line_number;
    }
    return parse_field(*m_record, key, value, line_number);
  }

  Status parse_field(Record& record, std::string_view key, std::string_view value,
                     std::size_t line_number) {
    PciDevice& device = record.device;
    if (key == "Slot") return parse_slot(record, value, line_number);
    if (key == "Class") {
      NameAndId class_name = split_name_and_id(value);
      device.class_name = std::move(class_name.name);
      record.class_id = class_name.id;
    } else if (key == "Vendor") {
      NameAndId vendor = split_name_and_id(value);
      device.vendor_name = std::move(vendor.name);
      device.vendor_id = vendor.id;
    } else if (key == "Device") {
      NameAndId product = split_name_and_id(value);
      device.device_name = std::move(product.name);
      device.device_id = product.id;
    } else if (key == "SVendor") {
      NameAndId vendor = split_name_and_id(value);
      device.subsystem_vendor_name = std::move(vendor.name);
      device.subsystem_vendor_id = vendor.id;
    } else if (key == "SDevice") {
      NameAndId subsystem = split_name_and_id(value);
      device.subsystem_name = std::move(subsystem.name);
      device.subsystem_device_id = subsystem.id;
    } else if (key == "Rev") {
      auto revision = parse_hex_byte(key, value, line_number);
      if (!revision) return fail(revision.error());
      device.revision = *revision;
    } else if (key == "ProgIf") {
      auto prog_if = parse_hex_byte(key, value, line_number);
      if (!prog_if) return fail(prog_if.error());
      record.prog_if = *prog_if;
    } else if (key == "Driver") {
      device.driver = sanitize_untrusted(value);
    } else if (key == "IOMMUGroup") {
      const auto group = parse_decimal(value);
      if (!group || *group < 0 || *group > std::numeric_limits<unsigned>::max()) {
        return bad(line_number, "IOMMUGroup " + quote_for_message(value) + " is not a group number");
      }
      device.iommu_group = static_cast<unsigned>(*group);
    } else if (key == "NUMANode") {
      const auto node = parse_decimal(value);
      if (!node || *node < std::numeric_limits<int>::min() ||
          *node > std::numeric_limits<int>::max()) {
        return bad(line_number, "NUMANode " + quote_for_message(value) + " is not a node number");
      }
      // The kernel's -1 means the platform does not say.
      device.numa_node = *node < 0 ? std::nullopt : std::optional<int>(static_cast<int>(*node));
    }
    // Other keys (Module, PhySlot, and whatever later lspci versions add) carry
    // nothing the inventory holds.
    return ok();
  }

  Status parse_slot(Record& record, std::string_view value, std::size_t line_number) {
    if (record.has_slot) {
      return bad(line_number,
                 "a second Slot line in one record (records are separated by blank lines)");
    }
    auto address = PciAddress::parse(value);
    if (!address) return bad(line_number, address.error().message);
    const auto [seen, inserted] = m_slot_lines.try_emplace(*address, line_number);
    if (!inserted) {
      return bad(line_number, "slot " + address->to_string() + " appears twice (first on line " +
                                  std::to_string(seen->second) + ")");
    }
    record.has_slot = true;
    record.device.address = *address;
    return ok();
  }

  static Result<std::uint8_t> parse_hex_byte(std::string_view key, std::string_view value,
                                             std::size_t line_number) {
    const auto number = parse_hex(value);
    if (!number || *number > 0xff) {
      return bad(line_number,
                 std::string(key) + " " + quote_for_message(value) + " is not a hexadecimal byte");
    }
    return static_cast<std::uint8_t>(*number);
  }

  Status finish_record() {
    if (!m_record) return ok();
    Record record = std::move(*m_record);
    m_record.reset();
    if (!record.has_slot) {
      return bad(record.first_line,
                 "the record starting here has no Slot line (run lspci with -vmm)");
    }
    PciDevice& device = record.device;
    // lspci prints Rev only when it is not zero.
    if (!device.revision) device.revision = 0;
    if (!record.class_id) record.class_id = bridge_class_id(device.class_name);
    if (record.class_id) {
      device.class_code = (std::uint32_t{*record.class_id} << 8) | record.prog_if;
      device.header = header_kind_from_class(device.class_code);
    } else if (!device.class_name.empty()) {
      device.header = HeaderKind::endpoint;
    }
    m_inventory.add(std::move(device));
    return ok();
  }

  Inventory m_inventory;
  std::optional<Record> m_record;
  std::map<PciAddress, std::size_t> m_slot_lines;
};

}  // namespace

Result<Inventory> parse_lspci_vmm(std::string_view text) { return LspciParser{}.parse(text); }

}  // namespace pcipass::core
