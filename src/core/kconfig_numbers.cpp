#include <pcipass/core/kconfig_numbers.hpp>

#include <pcipass/core/kconfig_writer.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/text_lines.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace pcipass::core {
namespace {

// "vvvv:dddd", or nullopt.
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_ids(std::string_view text) {
  if (text.size() != 9 || text[4] != ':') return std::nullopt;
  const auto vendor = parse_hex(text.substr(0, 4));
  const auto device = parse_hex(text.substr(5));
  if (!vendor || !device) return std::nullopt;
  return std::pair{static_cast<std::uint16_t>(*vendor), static_cast<std::uint16_t>(*device)};
}

// The number of `KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NNNN[_FIELD]` and the
// field ("" for the entry's own bool), or nullopt for other symbols.
struct SymbolParts {
  std::size_t number = 0;
  std::string_view field;
};
std::optional<SymbolParts> split_symbol(std::string_view symbol) {
  if (!symbol.starts_with(k_passthrough_prefix) || symbol.size() <= k_passthrough_prefix.size() ||
      symbol[k_passthrough_prefix.size()] != '_') {
    return std::nullopt;
  }
  symbol.remove_prefix(k_passthrough_prefix.size() + 1);
  const std::size_t digits = symbol.find_first_not_of("0123456789");
  const std::string_view number_text = symbol.substr(0, digits);
  // Only the spelling passthrough_symbol() gives (`_0007`, not `_7` or
  // `_00012`): Kconfig takes any other for another symbol.
  if (number_text.size() < 4 || number_text.size() > 18 ||
      (number_text.size() > 4 && number_text[0] == '0')) {
    return std::nullopt;
  }
  SymbolParts parts;
  std::from_chars(number_text.data(), number_text.data() + number_text.size(), parts.number);
  if (digits != std::string_view::npos) {
    if (symbol[digits] != '_') return std::nullopt;
    parts.field = symbol.substr(digits + 1);
  }
  return parts;
}

// The value of a `default "..."` line, with Kconfig's `\"` and `\\` undone.
std::optional<std::string> quoted_default(std::string_view line) {
  line = trim(line);
  if (!line.starts_with("default \"") || line.size() < 10 || line.back() != '"') return std::nullopt;
  const std::string_view body = line.substr(9, line.size() - 10);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    out += body[i];
  }
  return out;
}

// An `_SDEVICE` as compared: kconfig_safe_text() (pcipass writes it so,
// and applying it again changes nothing), then without quotes, which
// kdevops' generator strips and pcipass turns into U+FF02.
std::string identity_text(std::string_view text) {
  static constexpr std::string_view k_fullwidth_quote = "\xef\xbc\x82";
  std::string safe = kconfig_safe_text(text);
  std::string out;
  for (std::size_t i = 0; i < safe.size(); ++i) {
    if (safe.compare(i, k_fullwidth_quote.size(), k_fullwidth_quote) == 0) {
      i += k_fullwidth_quote.size() - 1;
      continue;
    }
    if (safe[i] != '\'') out += safe[i];
  }
  return out;
}

// A line's indentation in columns, as Kconfig's lexer counts it: a tab goes
// to the next multiple of 8.
std::size_t indentation(std::string_view line) {
  std::size_t columns = 0;
  for (const char ch : line) {
    if (ch == ' ')
      ++columns;
    else if (ch == '\t')
      columns = (columns & ~std::size_t{7}) + 8;
    else
      break;
  }
  return columns;
}

// Kconfig's help text: after a `help` line, every line indented at least as
// far as the first non-blank one (blank lines included), up to the first
// line indented less. Device names end up in help text, wrapped at any word,
// so a help line may read "config ...", "default ..." or "# number ...":
// none of it is a record.
class HelpText {
 public:
  // True when `line` is help text; call once per line, in order.
  bool holds(std::string_view line) {
    const std::string_view text = trim(line);
    if (m_open) {
      if (text.empty()) return true;
      const std::size_t indent = indentation(line);
      if (m_indent == 0) {
        if (indent > 0) {
          m_indent = indent;
          return true;
        }
      } else if (indent >= m_indent) {
        return true;
      }
      m_open = false;
      m_indent = 0;
    }
    if (text == "help" || text == "---help---") {
      m_open = true;
      return true;
    }
    return false;
  }

 private:
  bool m_open = false;
  std::size_t m_indent = 0;  // of the block's first line; 0 before it
};

class LedgerReader {
 public:
  explicit LedgerReader(std::string_view source_name) : m_source(source_name) {}

  Result<NumberLedger> read(std::string_view text) {
    std::optional<SymbolParts> symbol;
    bool highest_symbol = false;
    HelpText help;
    // Line by line, without a list of them: a server's file is 300k lines.
    std::size_t line_number = 0;
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      const std::string_view raw = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      ++line_number;
      if (help.holds(raw)) continue;
      const std::string_view line = trim(raw);
      if (line.starts_with("# number ")) {
        if (Status s = read_comment(line, line_number); !s) return fail(s.error());
        continue;
      }
      if (line.starts_with("# identity ")) {
        if (Status s = read_identity_comment(line, line_number); !s) return fail(s.error());
        continue;
      }
      if (line.starts_with("config ")) {
        const std::string_view name = trim(line.substr(7));
        symbol = split_symbol(name);
        highest_symbol = name.size() == k_passthrough_prefix.size() + 15 &&
                         name.starts_with(k_passthrough_prefix) &&
                         name.ends_with("_HIGHEST_NUMBER");
        if (symbol && symbol->number == 0) {
          return bad(line_number, "number 0 is not a passthrough number");
        }
        if (symbol && symbol->field.empty()) {
          if (!mark(symbol->number, k_entry)) {
            return bad(line_number, passthrough_symbol(symbol->number) + " is given twice");
          }
          entry(symbol->number, line_number);
        }
        // Only the fields below carry what a number means: the value of any
        // other is never unquoted.
        if (symbol && !symbol->field.empty() && field_bit(symbol->field) == 0) symbol.reset();
        continue;
      }
      if (!symbol && !highest_symbol) continue;
      if (!line.starts_with("default ")) continue;
      const auto value = quoted_default(line);
      if (!value) continue;
      if (highest_symbol) {
        if (Status s = read_highest(*value, line_number); !s) return fail(s.error());
        highest_symbol = false;
        continue;
      }
      if (!symbol) continue;
      if (Status s = read_field(*symbol, *value, line_number); !s) return fail(s.error());
      symbol.reset();  // a second default line of the same symbol is not the value
    }
    for (const auto& [number, record] : m_ledger.records) {
      if (record.offered && !has(number, k_address)) {
        return bad(record.line, passthrough_symbol(number) + " has no _PCI_ID");
      }
    }
    return std::move(m_ledger);
  }

 private:
  Unexpected bad(std::size_t line, const std::string& what) const {
    return fail(std::string(m_source) + " line " + std::to_string(line) + ": " + what +
                       " (pcipass keeps device numbers from this file: mend it or move it away)",
                   ExitCode::bad_input);
  }

  // What has been seen of each number, one bit each: its entry, its
  // address, its `# identity` line, and each field of field_bit().
  static constexpr unsigned k_entry = 1u << 0, k_address = 1u << 1, k_identity = 1u << 2;
  static unsigned field_bit(std::string_view field) {
    if (field == "PCI_ID") return 1u << 3;
    if (field == "VENDOR_DEVICE") return 1u << 4;
    if (field == "SDEVICE") return 1u << 5;
    if (field == "NAME") return 1u << 6;
    if (field == "IDENTITY") return 1u << 7;
    return 0;
  }
  // Sets `bit` of `number`; false when it was set already.
  bool mark(std::size_t number, unsigned bit) {
    unsigned& bits = m_seen[number];
    if ((bits & bit) != 0) return false;
    bits |= bit;
    return true;
  }
  bool has(std::size_t number, unsigned bit) const {
    const auto it = m_seen.find(number);
    return it != m_seen.end() && (it->second & bit) != 0;
  }

  NumberRecord& entry(std::size_t number, std::size_t line) {
    NumberRecord& record = m_ledger.records[number];
    if (record.line == 0) {
      record.number = number;
      record.line = line;
      record.offered = true;
    }
    return record;
  }

  Status read_highest(const std::string& value, std::size_t line) {
    std::size_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end != value.data() + value.size()) {
      return bad(line, std::string(k_passthrough_prefix) + "_HIGHEST_NUMBER is not a number: " +
                           quote_for_message(value));
    }
    m_ledger.highest_given = number;
    return ok();
  }

  Status read_field(const SymbolParts& symbol, const std::string& value, std::size_t line) {
    const unsigned bit = field_bit(symbol.field);
    if (bit == 0) return ok();
    if (!mark(symbol.number, bit)) {
      return bad(line, passthrough_symbol(symbol.number) + "_" + std::string(symbol.field) +
                           " is given twice");
    }
    NumberRecord& record = entry(symbol.number, line);
    if (!record.offered) {
      return bad(line, passthrough_symbol(symbol.number) + " is also kept in a comment line");
    }
    if (symbol.field == "PCI_ID") {
      const auto address = PciAddress::parse(value);
      if (!address) {
        return bad(line, passthrough_symbol(symbol.number) + "_PCI_ID is not a PCI address: " +
                             quote_for_message(value));
      }
      record.address = *address;
      mark(symbol.number, k_address);
    } else if (symbol.field == "VENDOR_DEVICE") {
      const auto ids = parse_ids(value);
      if (!ids) {
        return bad(line, passthrough_symbol(symbol.number) +
                             "_VENDOR_DEVICE is not vendor:device: " + quote_for_message(value));
      }
      record.vendor_id = ids->first;
      record.device_id = ids->second;
    } else if (symbol.field == "SDEVICE") {
      record.sdevice = value;
    } else if (symbol.field == "IDENTITY") {
      auto identity = DeviceIdentity::parse(value);
      if (!identity) {
        return bad(line, passthrough_symbol(symbol.number) + "_IDENTITY: " + identity.error().message);
      }
      record.identity = std::move(*identity);
    } else {
      record.name = value;
    }
    return ok();
  }

  // `# identity NNNN TEXT`: the serials of a number kept in a comment.
  Status read_identity_comment(std::string_view line, std::size_t line_number) {
    const std::string_view body = trim(line.substr(11));
    const std::size_t space = body.find(' ');
    const std::string_view digits = body.substr(0, space);
    std::size_t number = 0;
    const bool number_ok =
        !digits.empty() && digits.size() <= 9 &&
        digits.find_first_not_of("0123456789") == std::string_view::npos &&
        std::from_chars(digits.data(), digits.data() + digits.size(), number).ec == std::errc{};
    const auto it = number_ok ? m_ledger.records.find(number) : m_ledger.records.end();
    if (it == m_ledger.records.end() || it->second.offered) {
      return bad(line_number, "expected '# identity NNNN TEXT' after the '# number NNNN' line, got " +
                                  quote_for_message(line));
    }
    if (!mark(number, k_identity)) {
      return bad(line_number, "number " + std::to_string(number) + " has two identity lines");
    }
    auto identity =
        DeviceIdentity::parse(space == std::string_view::npos ? "" : body.substr(space + 1));
    if (!identity) return bad(line_number, identity.error().message);
    it->second.identity = std::move(*identity);
    return ok();
  }

  // `# number NNNN ADDRESS IDS NOTE[ | SDEVICE]`: a number given to a device
  // not offered.
  Status read_comment(std::string_view line, std::size_t line_number) {
    std::string_view body = line.substr(9);
    std::string_view sdevice;
    if (const std::size_t bar = body.find(" | "); bar != std::string_view::npos) {
      sdevice = body.substr(bar + 3);
      body = body.substr(0, bar);
    }
    const std::vector<std::string_view> fields = split_fields(body);
    std::size_t number = 0;
    const bool number_ok =
        !fields.empty() && fields[0].size() <= 9 &&
        fields[0].find_first_not_of("0123456789") == std::string_view::npos &&
        std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), number).ec ==
            std::errc{} &&
        number > 0;
    std::optional<PciAddress> address;
    if (fields.size() >= 2) {
      if (auto parsed = PciAddress::parse(fields[1])) address = *parsed;
    }
    const auto ids = fields.size() >= 3 ? parse_ids(fields[2]) : std::nullopt;
    if (!number_ok || !address || fields.size() < 3 || (fields[2] != "-" && !ids)) {
      return bad(line_number, "expected '# number NNNN ADDRESS VENDOR:DEVICE|- NOTE', got " +
                                  quote_for_message(line));
    }
    if (m_ledger.records.contains(number)) {
      return bad(line_number, "number " + std::to_string(number) + " is given twice");
    }
    NumberRecord& record = m_ledger.records[number];
    record.number = number;
    record.address = *address;
    if (ids) {
      record.vendor_id = ids->first;
      record.device_id = ids->second;
    }
    record.line = line_number;
    record.sdevice = std::string(sdevice);
    for (std::size_t i = 3; i < fields.size(); ++i) {
      if (!record.note.empty()) record.note += ' ';
      record.note += fields[i];
    }
    return ok();
  }

  std::string_view m_source;
  NumberLedger m_ledger;
  std::map<std::size_t, unsigned> m_seen;
};

// True when kdevops' generator numbers `d`: lspci shows an `SDevice:` line
// for it, which it does for every function with subsystem ids.
bool kdevops_numbers(const PciDevice& d) {
  return d.subsystem_vendor_id.has_value() || !d.subsystem_name.empty();
}

// Why `record` does not (or no longer) mean the device at its address, or
// "" when it still does (see the top of kconfig_numbers.hpp).
std::string mismatch(const NumberRecord& record, const PciDevice* d, const Inventory& inventory) {
  if (d == nullptr) return "gone";
  // A twin with the same ids but another serial is another device; so is
  // one whose serials cannot be read when the record's are found elsewhere.
  switch (compare_identity(record.identity, identity_of(*d, inventory))) {
    case IdentityMatch::different: return "changed";
    case IdentityMatch::unknown: {
      std::vector<PciAddress> found = find_by_identity(inventory, record.identity, record.address);
      std::erase(found, record.address);
      if (!found.empty()) return "changed";
      break;
    }
    case IdentityMatch::same: break;
  }
  const bool retired = !record.offered && record.note != "not offered";
  if (record.vendor_id && record.device_id) {
    return d->vendor_id == record.vendor_id && d->device_id == record.device_id ? "" : "changed";
  }
  if (retired || record.sdevice.empty()) return "changed";
  return identity_text(record.sdevice) == identity_text(kconfig_sdevice(*d)) ? "" : "changed";
}

}  // namespace

std::string NumberRecord::ids_text() const {
  if (!vendor_id || !device_id) return {};
  return hex(*vendor_id, 4).substr(2) + ":" + hex(*device_id, 4).substr(2);
}

std::string NumberRecord::describe() const {
  std::string out = address.to_string();
  if (vendor_id && device_id) {
    out += " (" + ids_text() + ")";
  } else if (!sdevice.empty()) {
    out += " (" + sanitize_untrusted(sdevice) + ")";
  }
  return out;
}

Result<NumberLedger> read_number_ledger(std::string_view kconfig_text,
                                        std::string_view source_name) {
  return LedgerReader(source_name).read(kconfig_text);
}

Result<NumberLedger> number_ledger_from_config(const DotConfig& config) {
  NumberLedger ledger;
  const auto bad = [&](const DotConfigValue& v, const std::string& what) {
    return fail(config.source_name() + " line " + std::to_string(v.line) + ": " + what,
                ExitCode::bad_input);
  };
  for (const auto& [symbol, value] : config.values()) {
    if (symbol == std::string(k_passthrough_prefix) + "_HIGHEST_NUMBER") {
      const auto [end, ec] = std::from_chars(value.value.data(),
                                             value.value.data() + value.value.size(),
                                             ledger.highest_given);
      if (ec != std::errc{} || end != value.value.data() + value.value.size()) {
        return bad(value, "CONFIG_" + symbol + " is not a number: " +
                              quote_for_message(value.value));
      }
      continue;
    }
    const auto parts = split_symbol(symbol);
    if (!parts || parts->field.empty()) continue;
    if (parts->number == 0) return bad(value, "CONFIG_" + symbol + ": number 0 is not a passthrough number");
    const std::string_view field = parts->field;
    if (field != "PCI_ID" && field != "VENDOR_DEVICE" && field != "SDEVICE" && field != "NAME" &&
        field != "IDENTITY") {
      continue;
    }
    NumberRecord& record = ledger.records[parts->number];
    record.number = parts->number;
    record.offered = true;
    if (record.line == 0 || value.line < record.line) record.line = value.line;
    if (field == "PCI_ID") {
      const auto address = PciAddress::parse(value.value);
      if (!address) {
        return bad(value, "CONFIG_" + symbol + " is not a PCI address: " +
                              quote_for_message(value.value));
      }
      record.address = *address;
    } else if (field == "VENDOR_DEVICE") {
      const auto ids = parse_ids(value.value);
      if (!ids) {
        return bad(value, "CONFIG_" + symbol + " is not vendor:device: " +
                              quote_for_message(value.value));
      }
      record.vendor_id = ids->first;
      record.device_id = ids->second;
    } else if (field == "SDEVICE") {
      record.sdevice = value.value;
    } else if (field == "IDENTITY") {
      auto identity = DeviceIdentity::parse(value.value);
      if (!identity) return bad(value, "CONFIG_" + symbol + ": " + identity.error().message);
      record.identity = std::move(*identity);
    } else {
      record.name = value.value;
    }
  }
  for (const auto& [number, record] : ledger.records) {
    if (config.find(passthrough_symbol(number) + "_PCI_ID") == nullptr) {
      return fail(config.source_name() + " line " + std::to_string(record.line) + ": " +
                      passthrough_symbol(number) + " has no _PCI_ID",
                  ExitCode::bad_input);
    }
  }
  return ledger;
}

Numbering number_devices(const Inventory& inventory,
                         const std::function<bool(const PciDevice&)>& offered,
                         const NumberLedger& previous) {
  Numbering out;
  if (!previous.empty()) {
    out.highest = previous.highest_given;
    if (!previous.records.empty()) {
      out.highest = std::max(out.highest, previous.records.rbegin()->first);
    }
    for (const auto& [number, record] : previous.records) {
      const PciDevice* d = inventory.find(record.address);
      std::string why = mismatch(record, d, inventory);
      if (why.empty() && out.numbers.contains(record.address)) why = "changed";
      if (why.empty()) {
        out.numbers[record.address] = number;
        continue;
      }
      NumberRecord kept = record;
      kept.offered = false;
      kept.name.clear();
      // A number retired before stays retired with its first reason.
      if (record.offered || record.note == "not offered") kept.note = why;
      out.retired.push_back(std::move(kept));
    }
  } else {
    for (const auto& [address, d] : inventory.devices()) {
      if (kdevops_numbers(d)) out.numbers[address] = ++out.highest;
    }
  }
  for (const auto& [address, d] : inventory.devices()) {
    if (!out.numbers.contains(address) && (offered(d) || kdevops_numbers(d))) {
      out.numbers[address] = ++out.highest;
    }
  }
  return out;
}

std::vector<StaleSelection> stale_selections(const PassthroughChoices& choices,
                                             const NumberLedger& ledger,
                                             std::string_view ledger_name) {
  // Where the ledger offers each address now.
  std::map<PciAddress, const NumberRecord*> offered_at;
  for (const auto& [number, record] : ledger.records) {
    if (record.offered) offered_at[record.address] = &record;
  }
  std::vector<StaleSelection> out;
  for (const SelectedDevice& s : choices.devices) {
    NumberRecord meant;
    meant.address = s.address;
    meant.vendor_id = s.vendor_id;
    meant.device_id = s.device_id;
    meant.sdevice = s.sdevice;
    const std::string symbol = "CONFIG_" + passthrough_symbol(s.number);
    const auto it = ledger.records.find(s.number);
    std::string what;
    bool repointed = false;
    if (it == ledger.records.end()) {
      what = "which " + std::string(ledger_name) + " does not number";
    } else if (it->second.address != s.address) {
      what = "but " + std::string(ledger_name) + " gives that number to " + it->second.describe();
      repointed = it->second.offered;
    } else if (s.vendor_id && s.device_id && it->second.vendor_id && it->second.device_id &&
               (s.vendor_id != it->second.vendor_id || s.device_id != it->second.device_id)) {
      what = "but the device there is now " + it->second.describe();
      repointed = it->second.offered;
    } else if (!(s.vendor_id && it->second.vendor_id) && !s.sdevice.empty() &&
               !it->second.sdevice.empty() &&
               identity_text(s.sdevice) != identity_text(it->second.sdevice)) {
      what = "but the device there is now " + it->second.describe();
      repointed = it->second.offered;
    } else if (compare_identity(s.identity, it->second.identity) == IdentityMatch::different) {
      what = "but " + std::string(ledger_name) + " gives that number to an identical device (" +
             identity_difference(s.identity, it->second.identity) + ")";
      repointed = it->second.offered;
    } else if (!it->second.offered) {
      const std::string& note = it->second.note;
      what = note == "gone"      ? "which is gone"
             : note == "changed" ? "whose device was replaced by another"
                                 : "which is no longer offered (" + note + ")";
    } else {
      continue;
    }
    std::string message = symbol + " selected " + meant.describe() + ", " + what;
    // Where the chosen device is now, by its serials: an identical twin may
    // sit at its address, with the same ids.
    const NumberRecord* moved = nullptr;  // the one offered record with its serials
    std::size_t alike_serials = 0;
    if (s.identity.has_serial()) {
      for (const auto& [address, record] : offered_at) {
        if (address.function == s.address.function &&
            compare_identity(s.identity, record->identity) == IdentityMatch::same) {
          moved = record;
          ++alike_serials;
        }
      }
    }
    if (alike_serials != 1) moved = nullptr;
    if (moved != nullptr && moved->address != s.address) {
      message += "; the device it chose (" + s.identity.serials() + ") is now " +
                 passthrough_symbol(moved->number) + " at " + moved->address.to_string();
      out.push_back({s.number, std::move(message), repointed});
      continue;
    }
    const auto at = offered_at.find(s.address);
    const bool same_there =
        at != offered_at.end() && at->second->number != s.number &&
        (!s.vendor_id || !at->second->vendor_id ||
         (s.vendor_id == at->second->vendor_id && s.device_id == at->second->device_id));
    if (same_there) {
      message += "; " + s.address.to_string() + " is now " + passthrough_symbol(at->second->number);
    } else if (s.vendor_id && s.device_id) {
      const NumberRecord* alike = nullptr;
      std::size_t count = 0;
      for (const auto& [address, record] : offered_at) {
        if (record->vendor_id == s.vendor_id && record->device_id == s.device_id &&
            address != s.address) {
          alike = record;
          ++count;
        }
      }
      if (count == 1) {
        message += "; a device with the same ids is " + passthrough_symbol(alike->number) +
                   " at " + alike->address.to_string() + " (the same one or its twin: check)";
      }
    }
    out.push_back({s.number, std::move(message), repointed});
  }
  return out;
}

}  // namespace pcipass::core
