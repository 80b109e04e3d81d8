#include <pcipass/host/libpci_names.hpp>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

// `path` mapped read-only: the page cache's pages, no copy. Empty when it
// cannot be opened (libpci then shows numbers, and so does pcipass).
MappedFile map_whole_file(const std::string& path) {
  MappedFile file;
  if (path.empty()) return file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    file.opened = true;
    if (st.st_size > 0) {
      void* address = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE,
                             fd, 0);
      if (address != MAP_FAILED) {
        file.data = static_cast<const char*>(address);
        file.size = static_cast<std::size_t>(st.st_size);
      } else {
        file.opened = false;
      }
    }
  }
  ::close(fd);
  return file;
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

MappedFile::~MappedFile() {
  if (data != nullptr) ::munmap(const_cast<char*>(data), size);
}

const core::PciNames* LibpciNames::database() const {
  if (m_loaded) return m_parsed.get();
  m_loaded = true;
  // The file libpci's pci_open() would read: its name, or without ".gz"
  // when that is missing.
  const std::string path = m_access->id_file_name != nullptr ? m_access->id_file_name : "";
  m_file = map_whole_file(path);
  if (!m_file.opened && path.ends_with(".gz")) {
    m_file = map_whole_file(path.substr(0, path.size() - 3));
  }
  const std::string_view text = m_file.text();
  if (text.starts_with("\x1f\x8b")) return nullptr;  // gzip: libpci reads it
  m_parsed = std::make_unique<core::PciIdsNames>(text, core::PciIdsNames::Borrowed::yes);
  return m_parsed.get();
}

std::string LibpciNames::vendor(std::uint16_t vendor_id) const {
  if (const core::PciNames* names = database()) return names->vendor(vendor_id);
  return lookup(m_access, PCI_LOOKUP_VENDOR, vendor_id);
}

std::string LibpciNames::device(std::uint16_t vendor_id, std::uint16_t device_id) const {
  if (const core::PciNames* names = database()) return names->device(vendor_id, device_id);
  return lookup(m_access, PCI_LOOKUP_DEVICE, vendor_id, device_id);
}

std::string LibpciNames::subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                                   std::uint16_t subsystem_vendor_id,
                                   std::uint16_t subsystem_device_id) const {
  if (const core::PciNames* names = database()) {
    return names->subsystem(vendor_id, device_id, subsystem_vendor_id, subsystem_device_id);
  }
  return lookup(m_access, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, vendor_id, device_id,
                subsystem_vendor_id, subsystem_device_id);
}

std::string LibpciNames::class_name(std::uint32_t class_code) const {
  if (const core::PciNames* names = database()) return names->class_name(class_code);
  return lookup(m_access, PCI_LOOKUP_CLASS, class_code >> 8);
}

}  // namespace pcipass::host
