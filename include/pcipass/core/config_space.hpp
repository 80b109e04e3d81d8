#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pcipass::core {

// The identity fields of a PCI function's configuration-space header.
struct ConfigHeader {
  std::uint16_t vendor_id = 0;
  std::uint16_t device_id = 0;
  std::uint8_t revision = 0;
  std::uint32_t class_code = 0;  // base, sub-class, prog-if
  std::uint8_t header_type = 0;  // without the multi-function bit
  std::optional<std::uint16_t> subsystem_vendor_id;  // type 0 (endpoint) headers only
  std::optional<std::uint16_t> subsystem_device_id;
};

// Number of config-space bytes parse_config_header() needs: the standard header.
inline constexpr std::size_t k_config_header_size = 64;

// Decodes the first 64 bytes of config space (sysfs `config`). Returns
// nullopt when fewer bytes are given or the function does not answer
// (vendor 0xffff: powered off or gone).
std::optional<ConfigHeader> parse_config_header(std::string_view bytes);

}  // namespace pcipass::core
