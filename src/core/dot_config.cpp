#include <pcipass/core/dot_config.hpp>

#include <pcipass/core/kconfig_writer.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <array>

namespace pcipass::core {
namespace {

constexpr std::string_view k_prefix = "CONFIG_";
constexpr std::string_view k_not_set = " is not set";
constexpr std::string_view k_enable_symbol = "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH";
constexpr std::string_view k_hostname_symbol = "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME";

struct TechniqueSymbol {
  PassthroughTechnique technique;
  std::string_view symbol;
};
constexpr std::array<TechniqueSymbol, 4> k_techniques{{
    {PassthroughTechnique::first, "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST"},
    {PassthroughTechnique::specific, "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_SPECIFIC"},
    {PassthroughTechnique::each, "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH"},
    {PassthroughTechnique::roundrobin, "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_ROUNDROBIN"},
}};

bool is_symbol_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class LineError {
 public:
  LineError(std::string_view source, std::size_t line)
      : m_prefix(std::string(source) + " line " + std::to_string(line) + ": ") {}
  Unexpected operator()(const std::string& what) const {
    return fail(m_prefix + what, ExitCode::bad_input);
  }

 private:
  std::string m_prefix;
};

// `# CONFIG_FOO is not set` gives "FOO"; any other comment gives "".
std::string_view unset_symbol(std::string_view line) {
  if (!line.starts_with("# ")) return {};
  line.remove_prefix(2);
  if (!line.starts_with(k_prefix) || !line.ends_with(k_not_set)) return {};
  const std::string_view name =
      line.substr(k_prefix.size(), line.size() - k_prefix.size() - k_not_set.size());
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_symbol_char)) return {};
  return name;
}

// The value after `=`: a quoted string with Kconfig's escapes, or a bare word.
Result<DotConfigValue> parse_value(std::string_view rest, const std::string& symbol,
                                   const LineError& error) {
  DotConfigValue value;
  rest = trim_right(rest);
  if (rest.empty()) return error("CONFIG_" + symbol + " has no value");
  if (rest.front() != '"') {
    const bool word = std::none_of(rest.begin(), rest.end(),
                                   [](char c) { return c == '"' || c == ' ' || c == '\t'; });
    if (!word) {
      return error("CONFIG_" + symbol + ": expected y, m, n, a number or a quoted string, got " +
                   quote_for_message(rest));
    }
    value.value = std::string(rest);
    return value;
  }
  value.quoted = true;
  std::size_t i = 1;
  for (;; ++i) {
    if (i >= rest.size()) return error("CONFIG_" + symbol + ": unterminated string");
    const char c = rest[i];
    if (c == '"') break;
    if (c == '\\') {
      if (++i >= rest.size()) return error("CONFIG_" + symbol + ": unterminated string");
    }
    value.value += rest[i];
  }
  if (i + 1 < rest.size()) {
    return error("CONFIG_" + symbol + ": unexpected text after the closing quote: " +
                 quote_for_message(rest.substr(i + 1)));
  }
  return value;
}

}  // namespace

Result<DotConfig> DotConfig::parse(std::string_view text, std::string_view source_name) {
  DotConfig config;
  config.m_source_name = std::string(source_name);
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    const LineError error(source_name, line_number);

    if (is_blank(line)) continue;
    if (line.starts_with('#')) {
      const std::string_view unset = unset_symbol(line);
      if (!unset.empty()) config.m_values[std::string(unset)] = {"n", line_number, false};
      continue;
    }
    if (!line.starts_with(k_prefix)) {
      return error("expected CONFIG_NAME=value, '# CONFIG_NAME is not set' or a comment, got " +
                   quote_for_message(line));
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return error("expected '=' after the symbol name in " + quote_for_message(line));
    }
    const std::string_view name = line.substr(k_prefix.size(), equals - k_prefix.size());
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_symbol_char)) {
      return error("malformed symbol name " + quote_for_message(line.substr(0, equals)));
    }
    const std::string symbol(name);
    auto value = parse_value(line.substr(equals + 1), symbol, error);
    if (!value) return fail(value.error());
    value->line = line_number;
    config.m_values[symbol] = std::move(*value);
  }
  return config;
}

const DotConfigValue* DotConfig::find(std::string_view symbol) const {
  const auto it = m_values.find(symbol);
  return it == m_values.end() ? nullptr : &it->second;
}

bool DotConfig::is_yes(std::string_view symbol) const {
  const DotConfigValue* v = find(symbol);
  return v != nullptr && !v->quoted && v->value == "y";
}

const char* to_string(PassthroughTechnique technique) {
  switch (technique) {
    case PassthroughTechnique::first: return "first";
    case PassthroughTechnique::specific: return "specific";
    case PassthroughTechnique::each: return "each";
    case PassthroughTechnique::roundrobin: return "roundrobin";
  }
  return "unknown";
}

namespace {

// Reads one selected device's symbols; `symbol` is KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_000N.
class DeviceReader {
 public:
  DeviceReader(const DotConfig& config, const std::string& symbol)
      : m_config(config), m_symbol(symbol) {}

  Unexpected error_at(std::size_t line, const std::string& what) const {
    return LineError(m_config.source_name(), line)(what);
  }

  const DotConfigValue* field(std::string_view suffix) const {
    return m_config.find(m_symbol + "_" + std::string(suffix));
  }

  // A hex field of the address, at most `max`.
  Result<std::uint32_t> address_part(std::string_view suffix, std::uint32_t max) const {
    const DotConfigValue* v = field(suffix);
    const auto number = parse_hex(v->value);
    if (!number || *number > max) {
      return error_at(v->line, m_symbol + "_" + std::string(suffix) +
                                   ": expected a hex number from 0x0 to " + hex(max, 1) + ", got " +
                                   quote_for_message(v->value));
    }
    return static_cast<std::uint32_t>(*number);
  }

  Result<PciAddress> address(std::size_t selected_line) const {
    const DotConfigValue* pci_id = field("PCI_ID");
    std::optional<PciAddress> from_id;
    if (pci_id != nullptr) {
      auto parsed = PciAddress::parse(pci_id->value);
      if (!parsed) {
        return error_at(pci_id->line, m_symbol + "_PCI_ID: " + parsed.error().message);
      }
      from_id = *parsed;
    }
    const bool have_parts = field("DOMAIN") != nullptr && field("BUS") != nullptr &&
                            field("SLOT") != nullptr && field("FUNCTION") != nullptr;
    if (!have_parts) {
      if (from_id) return *from_id;
      return error_at(selected_line, m_symbol + " is selected but has no address: expected " +
                                         m_symbol +
                                         "_PCI_ID or _DOMAIN, _BUS, _SLOT and _FUNCTION");
    }
    auto domain = address_part("DOMAIN", 0xffffffff);
    if (!domain) return fail(domain.error());
    auto bus = address_part("BUS", 0xff);
    if (!bus) return fail(bus.error());
    auto slot = address_part("SLOT", 0x1f);
    if (!slot) return fail(slot.error());
    auto function = address_part("FUNCTION", 7);
    if (!function) return fail(function.error());
    const PciAddress from_parts{*domain, static_cast<std::uint8_t>(*bus),
                                static_cast<std::uint8_t>(*slot),
                                static_cast<std::uint8_t>(*function)};
    if (from_id && *from_id != from_parts) {
      return error_at(pci_id->line, m_symbol + "_PCI_ID is " + from_id->to_string() +
                                        " but _DOMAIN, _BUS, _SLOT and _FUNCTION say " +
                                        from_parts.to_string());
    }
    return from_parts;
  }

  Status read_group(SelectedDevice& device) const {
    const DotConfigValue* v = field("IOMMUGROUP");
    if (v == nullptr) return ok();
    const auto group = parse_decimal(v->value);
    if (!group || *group < 0 || *group > 0xffffffffLL) {
      return error_at(v->line, m_symbol + "_IOMMUGROUP: expected an IOMMU group number, got " +
                                   quote_for_message(v->value));
    }
    device.iommu_group = static_cast<unsigned>(*group);
    return ok();
  }

  Status read_ids(SelectedDevice& device) const {
    const DotConfigValue* v = field("VENDOR_DEVICE");
    if (v == nullptr) return ok();
    const std::size_t colon = v->value.find(':');
    const auto vendor = parse_hex(std::string_view(v->value).substr(0, colon));
    const auto dev = colon == std::string::npos
                         ? std::nullopt
                         : parse_hex(std::string_view(v->value).substr(colon + 1));
    if (v->value.size() != 9 || colon != 4 || !vendor || !dev) {
      return error_at(v->line, m_symbol +
                                   "_VENDOR_DEVICE: expected vendor:device such as "
                                   "8086:15f3, got " +
                                   quote_for_message(v->value));
    }
    device.vendor_id = static_cast<std::uint16_t>(*vendor);
    device.device_id = static_cast<std::uint16_t>(*dev);
    return ok();
  }

 private:
  const DotConfig& m_config;
  std::string m_symbol;
};

}  // namespace

Result<PassthroughChoices> read_passthrough_choices(const DotConfig& config) {
  PassthroughChoices choices;
  choices.enabled = config.is_yes(k_enable_symbol);
  if (!choices.enabled) return choices;
  const std::size_t enable_line = config.find(k_enable_symbol)->line;

  const TechniqueSymbol* chosen = nullptr;
  for (const TechniqueSymbol& t : k_techniques) {
    if (!config.is_yes(t.symbol)) continue;
    if (chosen != nullptr) {
      return LineError(config.source_name(), config.find(t.symbol)->line)(
          std::string(t.symbol) + " and " + std::string(chosen->symbol) +
          " are both set; the technique is a choice of one");
    }
    chosen = &t;
  }
  if (chosen == nullptr) {
    return LineError(config.source_name(), enable_line)(
        std::string(k_enable_symbol) +
        " is set but none of KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST, _SPECIFIC, _EACH or "
        "_ROUNDROBIN is");
  }
  choices.technique = chosen->technique;
  if (const DotConfigValue* v = config.find(k_hostname_symbol)) choices.target_hostname = v->value;

  const std::string device_prefix = std::string(k_passthrough_prefix) + "_";
  for (const auto& [symbol, value] : config.values()) {
    if (!symbol.starts_with(device_prefix) || value.quoted || value.value != "y") continue;
    const std::string_view digits = std::string_view(symbol).substr(device_prefix.size());
    const auto number = parse_decimal(digits);
    if (digits.size() > 9 || !number ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const DeviceReader reader(config, symbol);
    SelectedDevice device;
    device.number = static_cast<std::size_t>(*number);
    auto address = reader.address(value.line);
    if (!address) return fail(address.error());
    device.address = *address;
    if (auto s = reader.read_group(device); !s) return fail(s.error());
    if (auto s = reader.read_ids(device); !s) return fail(s.error());
    if (const DotConfigValue* name = reader.field("NAME")) device.name = name->value;
    if (const DotConfigValue* sdevice = reader.field("SDEVICE")) device.sdevice = sdevice->value;
    if (const DotConfigValue* identity = reader.field("IDENTITY")) {
      auto parsed = DeviceIdentity::parse(identity->value);
      if (!parsed) return reader.error_at(identity->line, symbol + "_IDENTITY: " + parsed.error().message);
      device.identity = std::move(*parsed);
    }

    if (choices.technique == PassthroughTechnique::each) {
      const DotConfigValue* guest = reader.field("TARGET_GUEST");
      if (guest == nullptr || guest->value.empty()) {
        return reader.error_at(
            guest != nullptr ? guest->line : value.line,
            symbol + " is selected for technique each but " + symbol + "_TARGET_GUEST is empty");
      }
      device.target_guest = guest->value;
    } else if (choices.technique == PassthroughTechnique::specific) {
      if (choices.target_hostname.empty()) {
        const DotConfigValue* host = config.find(k_hostname_symbol);
        return reader.error_at(
            host != nullptr ? host->line : enable_line,
            std::string(k_hostname_symbol) + " is empty but technique specific needs a guest name");
      }
      device.target_guest = choices.target_hostname;
    }
    choices.devices.push_back(std::move(device));
  }
  std::sort(choices.devices.begin(), choices.devices.end(),
            [](const SelectedDevice& a, const SelectedDevice& b) { return a.number < b.number; });
  return choices;
}

}  // namespace pcipass::core
