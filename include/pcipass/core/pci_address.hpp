#pragma once

#include <pcipass/core/error.hpp>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace pcipass::core {

// A PCI function address: domain, bus, slot (device) and function.
struct PciAddress {
  std::uint32_t domain = 0;
  std::uint8_t bus = 0;
  std::uint8_t slot = 0;      // 0x00..0x1f
  std::uint8_t function = 0;  // 0..7

  // Parses `0000:2d:00.0`, `2d:00.0` (domain 0) or libvirt's node-device name
  // `pci_0000_2d_00_0`. Anything else (a slot above 0x1f, a function above 7,
  // non-hex digits, extra characters, path-like text) fails with a message
  // that says what was expected; the error code is ExitCode::usage.
  static Result<PciAddress> parse(std::string_view text);

  // `0000:2d:00.0`, the form sysfs and lspci -D use.
  [[nodiscard]] std::string to_string() const;
  // `pci_0000_2d_00_0`, libvirt's node-device name.
  [[nodiscard]] std::string libvirt_name() const;

  auto operator<=>(const PciAddress&) const = default;
};

}  // namespace pcipass::core
