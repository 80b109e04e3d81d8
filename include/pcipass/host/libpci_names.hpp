#pragma once

#include <pcipass/core/pci_names.hpp>

#include <memory>
#include <string>

struct pci_access;

namespace pcipass::host {

// PciNames over libpci's name lookup, so pcipass shows the same names as
// lspci (same database, same fallbacks such as "Device 0d57").
class LibpciNames final : public core::PciNames {
public:
  // `ids_file` is a pci.ids file to use instead of the system's (lspci -i);
  // empty for the default. A missing or unreadable file is not an error here:
  // lookups then give numeric fallbacks, as lspci does.
  explicit LibpciNames(const std::string& ids_file = {});
  ~LibpciNames() override;
  LibpciNames(const LibpciNames&) = delete;
  LibpciNames& operator=(const LibpciNames&) = delete;

  std::string vendor(std::uint16_t vendor_id) const override;
  std::string device(std::uint16_t vendor_id, std::uint16_t device_id) const override;
  std::string subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                        std::uint16_t subsystem_vendor_id,
                        std::uint16_t subsystem_device_id) const override;
  std::string class_name(std::uint32_t class_code) const override;

private:
  pci_access* m_access;
};

}  // namespace pcipass::host
