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

// The size in bytes of the largest prefetchable memory BAR in sysfs
// `resource` text (one "START END FLAGS" line per resource; the first six
// are the standard BARs, the rest ROM, SR-IOV and bridge windows, which do
// not count). nullopt when no such BAR is set up or the text is not that.
// A GPU's prefetchable BAR is the window on its memory: all of it with
// resizable BAR, often 256 MiB without.
std::optional<std::uint64_t> largest_prefetchable_bar(std::string_view resource);

}  // namespace pcipass::core
