#include <pcipass/core/config_space.hpp>

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

}  // namespace pcipass::core
