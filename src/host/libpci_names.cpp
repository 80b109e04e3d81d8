#include <pcipass/host/libpci_names.hpp>

#include <cstdarg>
#include <cstdlib>
#include <cstring>

extern "C" {
#include <pci/pci.h>
}

namespace pcipass::host {
namespace {

// libpci reports a missing database through `warning`; pcipass then shows
// numeric names like lspci does, without noise on stderr.
void quiet_warning(char* /*msg*/, ...) {}

std::string lookup(pci_access* access, int flags, unsigned a, unsigned b = 0, unsigned c = 0,
                   unsigned d = 0) {
  char buf[1024];
  // pci.ids only: udev's hwdb would be opened afresh for every miss (five
  // failed open() calls per unknown subsystem), and names must not depend
  // on which hwdb a machine happens to have.
  const char* name = pci_lookup_name(access, buf, sizeof buf, flags | PCI_LOOKUP_NO_HWDB, a, b, c, d);
  return name != nullptr ? std::string(name) : std::string();
}

}  // namespace

LibpciNames::LibpciNames(const std::string& ids_file) : m_access(pci_alloc()) {
  // Without pci_init() (which probes hardware access pcipass does not want)
  // libpci leaves its message callbacks unset, and name lookups call them.
  m_access->warning = quiet_warning;
  m_access->debug = quiet_warning;
  if (!ids_file.empty()) {
    char* copy = strdup(ids_file.c_str());
    if (copy != nullptr) pci_set_name_list_path(m_access, copy, 1);
  }
}

LibpciNames::~LibpciNames() { pci_cleanup(m_access); }

std::string LibpciNames::vendor(std::uint16_t vendor_id) const {
  return lookup(m_access, PCI_LOOKUP_VENDOR, vendor_id);
}

std::string LibpciNames::device(std::uint16_t vendor_id, std::uint16_t device_id) const {
  return lookup(m_access, PCI_LOOKUP_DEVICE, vendor_id, device_id);
}

std::string LibpciNames::subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                                   std::uint16_t subsystem_vendor_id,
                                   std::uint16_t subsystem_device_id) const {
  return lookup(m_access, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, vendor_id, device_id,
                subsystem_vendor_id, subsystem_device_id);
}

std::string LibpciNames::class_name(std::uint32_t class_code) const {
  return lookup(m_access, PCI_LOOKUP_CLASS, class_code >> 8);
}

}  // namespace pcipass::host
