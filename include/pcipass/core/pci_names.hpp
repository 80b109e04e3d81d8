#pragma once

#include <pcipass/core/inventory.hpp>

#include <cstdint>
#include <string>

namespace pcipass::core {

// Names for numeric PCI ids, from the pci.ids database. The implementation
// over libpci lives in the host layer; tests may pass a fake. Unknown ids
// give the same fallback text lspci prints ("Device 0d57").
class PciNames {
public:
  virtual ~PciNames() = default;
  [[nodiscard]] virtual std::string vendor(std::uint16_t vendor_id) const = 0;
  [[nodiscard]] virtual std::string device(std::uint16_t vendor_id, std::uint16_t device_id) const = 0;
  [[nodiscard]] virtual std::string subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                                              std::uint16_t subsystem_vendor_id,
                                              std::uint16_t subsystem_device_id) const = 0;
  // The name of a class code's base class and sub-class (`class_code >> 8`).
  [[nodiscard]] virtual std::string class_name(std::uint32_t class_code) const = 0;
};

// Names every device from the database wherever it has the ids, replacing
// names a source gave, so every source names a device alike (libvirt's names
// come from udev's hwdb, lspci's from its own lookup). Names a source gave
// without ids (lspci text without -nn) are kept. Database names are
// untrusted and pass through sanitize_untrusted().
void fill_names(Inventory& inventory, const PciNames& names);

}  // namespace pcipass::core
