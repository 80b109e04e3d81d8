#include <pcipass/core/config_space.hpp>

#include <pcipass/core/text.hpp>


namespace pcipass::core {
namespace {

std::uint16_t le16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    (static_cast<unsigned char>(b[at + 1]) << 8));
}

}  // namespace

std::optional<ConfigHeader> parse_config_header(std::string_view bytes) {
  if (bytes.size() < k_config_header_size) return std::nullopt;
  ConfigHeader h;
  h.vendor_id = le16(bytes, 0x00);
  if (h.vendor_id == 0xffff || h.vendor_id == 0x0000) return std::nullopt;
  h.device_id = le16(bytes, 0x02);
  h.revision = static_cast<unsigned char>(bytes[0x08]);
  h.class_code = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[0x09])) |
                 static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[0x0a])) << 8 |
                 static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[0x0b])) << 16;
  h.header_type = static_cast<unsigned char>(bytes[0x0e]) & 0x7f;
  if (h.header_type == 0) {
    h.subsystem_vendor_id = le16(bytes, 0x2c);
    h.subsystem_device_id = le16(bytes, 0x2e);
  } else if (h.header_type == 2) {
    // CardBus bridges keep their subsystem ids at 0x40, past the 64 bytes.
  }
  return h;
}

std::optional<std::uint64_t> largest_prefetchable_bar(std::string_view resource) {
  constexpr std::uint64_t k_mem = 0x200;        // IORESOURCE_MEM
  constexpr std::uint64_t k_prefetch = 0x2000;  // IORESOURCE_PREFETCH
  constexpr std::uint64_t k_unset = 0x20000000;  // IORESOURCE_UNSET: no address assigned
  constexpr int k_standard_bars = 6;
  std::optional<std::uint64_t> largest;
  int line = 0;
  while (!resource.empty() && line < k_standard_bars) {
    const std::size_t end_of_line = resource.find('\n');
    std::string_view rest = resource.substr(0, end_of_line);
    resource.remove_prefix(end_of_line == std::string_view::npos ? resource.size() : end_of_line + 1);
    ++line;
    std::uint64_t fields[3] = {};
    bool ok = true;
    for (std::uint64_t& field : fields) {
      rest = trim(rest);
      const std::size_t space = rest.find(' ');
      auto value = parse_hex(rest.substr(0, space));
      if (!value) {
        ok = false;
        break;
      }
      field = *value;
      rest.remove_prefix(space == std::string_view::npos ? rest.size() : space);
    }
    if (!ok || !trim(rest).empty()) return std::nullopt;  // not a resource file
    const auto [start, end, flags] = fields;
    if ((flags & k_mem) == 0 || (flags & k_prefetch) == 0 || (flags & k_unset) != 0 ||
        end <= start) {
      continue;
    }
    const std::uint64_t size = end - start + 1;
    if (size == 0) continue;  // the whole 64-bit space: not a real BAR
    if (!largest || size > *largest) largest = size;
  }
  return largest;
}

}  // namespace pcipass::core
