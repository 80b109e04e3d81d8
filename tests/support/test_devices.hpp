#pragma once

// Inventory building blocks for the core tests: an address from text, a PCI
// function with ids, class, driver and IOMMU group, and an inventory of them.

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_device.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace pcipass::test {

inline core::PciAddress addr(const char* text) { return core::PciAddress::parse(text).value(); }

inline core::PciDevice device(const char* address, std::uint16_t vendor, std::uint16_t id,
                              std::uint32_t class_code, const char* driver, unsigned group) {
  core::PciDevice d;
  d.address = addr(address);
  d.vendor_id = vendor;
  d.device_id = id;
  d.class_code = class_code;
  d.header = core::header_kind_from_class(class_code);
  d.driver = driver;
  d.iommu_group = group;
  return d;
}

// An inventory of `devices`, with its IOMMU groups built.
inline core::Inventory inventory_of(std::vector<core::PciDevice> devices) {
  core::Inventory inventory;
  for (core::PciDevice& d : devices) inventory.add(std::move(d));
  inventory.rebuild_groups();
  return inventory;
}

}  // namespace pcipass::test
