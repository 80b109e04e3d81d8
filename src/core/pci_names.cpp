#include <pcipass/core/pci_names.hpp>

#include <pcipass/core/text.hpp>

namespace pcipass::core {

void fill_names(Inventory& inventory, const PciNames& names) {
  // SR-IOV functions come in runs with the same ids: the previous device's
  // names are reused when every id matches (the names are a function of them).
  const PciDevice* previous = nullptr;
  for (auto& [address, dev] : inventory.devices()) {
    // Only fields the lookups below would set are copied: names a source
    // gave without ids stay.
    if (previous != nullptr && dev.vendor_id && dev.device_id && dev.class_code &&
        previous->vendor_id == dev.vendor_id && previous->device_id == dev.device_id &&
        previous->subsystem_vendor_id == dev.subsystem_vendor_id &&
        previous->subsystem_device_id == dev.subsystem_device_id &&
        previous->class_code == dev.class_code) {
      dev.vendor_name = previous->vendor_name;
      dev.device_name = previous->device_name;
      if (dev.subsystem_vendor_id && *dev.subsystem_vendor_id != 0) {
        dev.subsystem_vendor_name = previous->subsystem_vendor_name;
        if (dev.subsystem_device_id) dev.subsystem_name = previous->subsystem_name;
      }
      dev.class_name = previous->class_name;
      previous = &dev;
      continue;
    }
    previous = &dev;
    if (dev.vendor_id) dev.vendor_name = sanitize_untrusted(names.vendor(*dev.vendor_id));
    if (dev.vendor_id && dev.device_id) {
      dev.device_name = sanitize_untrusted(names.device(*dev.vendor_id, *dev.device_id));
    }
    if (dev.subsystem_vendor_id && *dev.subsystem_vendor_id != 0) {
      dev.subsystem_vendor_name = sanitize_untrusted(names.vendor(*dev.subsystem_vendor_id));
      if (dev.vendor_id && dev.device_id && dev.subsystem_device_id) {
        dev.subsystem_name = sanitize_untrusted(names.subsystem(
            *dev.vendor_id, *dev.device_id, *dev.subsystem_vendor_id, *dev.subsystem_device_id));
      }
    }
    if (dev.class_code) dev.class_name = sanitize_untrusted(names.class_name(*dev.class_code));
  }
}

}  // namespace pcipass::core
