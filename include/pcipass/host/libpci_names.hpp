#pragma once

#include <pcipass/core/pci_ids.hpp>
#include <pcipass/core/pci_names.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

struct pci_access;

namespace pcipass::host {

// A file mapped read-only, unmapped by the destructor.
struct MappedFile {
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept {
    std::swap(data, other.data);
    std::swap(size, other.size);
    std::swap(opened, other.opened);
    return *this;
  }
  ~MappedFile();
  [[nodiscard]] std::string_view text() const { return {data, size}; }
  const char* data = nullptr;
  std::size_t size = 0;
  bool opened = false;  // the file could be opened (it may be empty)
};

// PciNames from the pci.ids libpci would read (its default file, or
// `ids_file`), so pcipass shows the same names as lspci (same database, same
// fallbacks such as "Device 0d57"). A plain-text file is read once, at the
// first lookup, by core::PciIdsNames (libpci's own loader took ~35 ms); a
// gzip-compressed one is left to libpci.
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
  // The names to ask: m_parsed, or null for libpci itself.
  const core::PciNames* database() const;

  pci_access* m_access;
  mutable bool m_loaded = false;
  mutable MappedFile m_file;                            // declared first: outlives m_parsed
  mutable std::unique_ptr<core::PciIdsNames> m_parsed;  // reads m_file
};

}  // namespace pcipass::host
