#include <pcipass/core/pci_names.hpp>

#include <pcipass/core/text.hpp>

namespace pcipass::core {

void fill_names(Inventory& inventory, const PciNames& names) {
  for (auto& [address, dev] : inventory.devices()) {
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
