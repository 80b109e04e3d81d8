#include <pcipass/core/pci_device.hpp>

#include <pcipass/core/text.hpp>

#include <cstdio>

namespace pcipass::core {

std::string PciDevice::ids() const {
  if (!vendor_id || !device_id) return {};
  char buf[40];
  char* end = put_hex(buf, *vendor_id, 4);
  *end++ = ':';
  end = put_hex(end, *device_id, 4);
  return std::string(buf, end);
}

std::optional<std::uint16_t> PciDevice::class_id() const {
  if (!class_code) return std::nullopt;
  return static_cast<std::uint16_t>(*class_code >> 8);
}

std::string PciDevice::host_claim() const {
  if (host_in_use()) {
    std::string text = "used by the host: ";
    for (std::size_t i = 0; i < host_uses.size(); ++i) text += (i > 0 ? "; " : "") + host_uses[i];
    return text;
  }
  if (!host_usage_unknown.empty()) return "host usage unknown: " + host_usage_unknown;
  return {};
}

std::string PciDevice::host_claim_note() const {
  if (host_in_use()) {
    std::string uses;
    for (std::size_t i = 0; i < host_uses.size(); ++i) uses += (i > 0 ? "; " : "") + host_uses[i];
    return address.to_string() + " is used by the host (" + uses + ")";
  }
  return address.to_string() + " may be used by the host (" + host_claim() + ")";
}

bool PciDevice::stays_with_platform() const {
  // Base class 0x06 holds every kind of bridge: host, ISA/LPC, EISA, PCI,
  // CardBus, ... None of them is something a guest can use.
  const auto cls = class_id();
  return is_bridge() || (cls && (*cls >> 8) == 0x06);
}

const char* PciDevice::kind_name() const {
  const auto cls = class_id();
  if (cls == std::optional<std::uint16_t>(0x0600)) return "host-bridge";
  if (is_bridge() || (cls && (*cls >> 8) == 0x06)) return "bridge";
  return header == HeaderKind::endpoint ? "endpoint" : "unknown";
}

HeaderKind header_kind_from_class(std::optional<std::uint32_t> class_code) {
  if (!class_code) return HeaderKind::unknown;
  const std::uint32_t class_id = *class_code >> 8;
  // 0x0604 PCI-to-PCI, 0x0607 CardBus, 0x0609 semi-transparent PCI-to-PCI.
  if (class_id == 0x0604 || class_id == 0x0607 || class_id == 0x0609) {
    return HeaderKind::bridge;
  }
  return HeaderKind::endpoint;
}

}  // namespace pcipass::core
