#pragma once

// The pci.ids database read the way libpci reads it, so that names match
// lspci's byte for byte: same parse rules (and the same point where a broken
// file stops being read), same fallbacks ("Device 0d57", "Class ff00"), same
// lookup order for subsystems. pcipass used libpci itself for this, but
// libpci's loader spent ~35 ms per run inserting the whole file into a small
// hash table; this one parses the same file in a few milliseconds.

#include <pcipass/core/pci_names.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

class PciIdsNames final : public PciNames {
public:
  // Parses `text`, the content of a pci.ids file (not gzip-compressed). Like
  // libpci, a malformed line (bad id, a line of 1023 bytes or more, an entry
  // listed twice, a generic subsystem block for an unknown vendor) ends the
  // parse there: entries before it are kept, the rest is ignored. Empty text
  // (no database) gives the numeric fallbacks only.
  explicit PciIdsNames(std::string text);
  // The same over `text` kept elsewhere (a mapped file), which must outlive
  // this object: a 1.3 MB copy costs hundreds of page faults.
  enum class Borrowed { yes };
  PciIdsNames(std::string_view text, Borrowed);
  PciIdsNames(const PciIdsNames&) = delete;
  PciIdsNames& operator=(const PciIdsNames&) = delete;

  std::string vendor(std::uint16_t vendor_id) const override;
  std::string device(std::uint16_t vendor_id, std::uint16_t device_id) const override;
  std::string subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                        std::uint16_t subsystem_vendor_id,
                        std::uint16_t subsystem_device_id) const override;
  std::string class_name(std::uint32_t class_code) const override;

  // 0 when the whole text parsed, else the 1-based line where parsing stopped.
  [[nodiscard]] std::size_t error_line() const { return m_error_line; }

  // libpci's categories of entries.
  enum Category { vendor_entry, device_entry, subsystem_entry, generic_subsystem_entry,
                  class_entry, subclass_entry, progif_entry, category_count };

private:
  // One entry of the open-addressing table: ids packed as libpci's
  // id1..id4, and where the name is in m_text (length 0: a free slot; names
  // are never empty and shorter than a 1024-byte line).
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t offset = 0;
    std::uint16_t length = 0;
    std::uint8_t category = 0;
    std::uint32_t block = 0;  // vendors: their Block
  };
  // A vendor's nested lines, [begin, end) of m_text, and whether its
  // devices and subsystems are in the table yet.
  struct Block {
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
    bool indexed = false;
  };

  // A device (key 0:device:0:0) or subsystem (bit 63 set, 0:device:sv:sd)
  // of one vendor.
  struct Entry {
    std::uint64_t key = 0;
    std::uint32_t offset = 0;
    std::uint16_t length = 0;
  };

  [[nodiscard]] std::optional<std::string_view> find(Category category, std::uint64_t key) const;
  // The devices and subsystems of `vendor_id`, read from its block at the first call.
  [[nodiscard]] const std::vector<Entry>& vendor_entries(std::uint16_t vendor_id) const;
  [[nodiscard]] const Slot* probe(Category category, std::uint64_t key) const;
  // False when the entry is there already (libpci: "Duplicate entry").
  bool insert(Category category, std::uint64_t key, std::string_view name,
              std::uint32_t block = 0) const;
  void parse();

  std::string m_owned;     // the text, when this object owns it
  std::string_view m_text;  // the text parsed: m_owned or borrowed
  // Vendors, classes and generic subsystems: open addressing, at most half
  // full, no allocation per entry.
  mutable std::vector<Slot> m_slots;
  mutable std::size_t m_used = 0;
  // Devices and subsystems (~40k of a current pci.ids' ~45k entries): read
  // vendor by vendor, at the first lookup that needs them.
  mutable std::vector<Block> m_blocks;
  mutable std::vector<std::vector<Entry>> m_vendor_entries;  // by block
  std::size_t m_error_line = 0;
};

}  // namespace pcipass::core
