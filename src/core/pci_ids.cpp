#include <pcipass/core/pci_ids.hpp>

#include <algorithm>
#include <cstdio>

namespace pcipass::core {
namespace {

// libpci reads lines into a 1024-byte buffer: a line of 1023 bytes or more
// (without its newline) is "too long" and stops the parse.
constexpr std::size_t k_max_line = 1024;

std::uint64_t key(unsigned id1, unsigned id2 = 0, unsigned id3 = 0, unsigned id4 = 0) {
  return static_cast<std::uint64_t>(id1) << 48 | static_cast<std::uint64_t>(id2) << 32 |
         static_cast<std::uint64_t>(id3) << 16 | id4;
}

// `count` hex digits at `at` of `line` (libpci's id_hex), or -1.
int hex_at(std::string_view line, std::size_t at, int count) {
  int value = 0;
  for (int i = 0; i < count; ++i) {
    const std::size_t k = at + static_cast<std::size_t>(i);
    const char c = k < line.size() ? line[k] : '\0';
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value += c - '0';
    } else if (c >= 'a' && c <= 'f') {
      value += c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      value += c - 'A' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

bool white_at(std::string_view line, std::size_t at) {
  return at < line.size() && (line[at] == ' ' || line[at] == '\t');
}

// libpci's format_name() into its 1024-byte buffer: longer results end in "...".
std::string formatted(std::string text) {
  if (text.size() >= k_max_line) {
    text.resize(k_max_line - 4);
    text += "...";
  }
  return text;
}

std::string hex4(unsigned value) {
  char digits[8];
  std::snprintf(digits, sizeof digits, "%04x", value & 0xffffu);
  return digits;
}

// splitmix64's finaliser: every bit of the ids reaches the low bits.
std::size_t slot_hash(std::uint64_t key, unsigned category) {
  std::uint64_t h = key ^ (static_cast<std::uint64_t>(category) << 61);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<std::size_t>(h);
}

// libpci's reading of one stretch of pci.ids, from `begin` (a line start) to
// `end`, starting in block `cat` of vendor or class `id1`. Calls
// on_top(offset) before each top-level line (false: stop), on_entry(category,
// id1..id4, name, line, offset, next) for each entry (false: stop) and
// on_error(line, offset) where libpci would report a parse error.
template <class OnTop, class OnEntry, class OnError>
void scan(std::string_view text, std::size_t begin, std::size_t end, int cat, int id1, OnTop on_top,
          OnEntry on_entry, OnError on_error) {
  using C = PciIdsNames::Category;
  int id2 = 0, id3 = 0, id4 = 0;
  std::size_t line_number = 0;
  std::size_t pos = begin;
  while (pos < end) {
    // One gzgets() into libpci's buffer: through the newline, at most 1023 bytes.
    ++line_number;
    const std::size_t offset = pos;
    const std::size_t newline = text.find('\n', pos);
    std::size_t take = newline == std::string_view::npos ? text.size() - pos : newline - pos + 1;
    take = std::min(take, k_max_line - 1);
    std::string_view line = text.substr(pos, take);
    pos += take;
    const auto stop = [&] { on_error(line_number, offset); };

    std::size_t cut = 0;
    while (cut < line.size() && line[cut] != '\n' && line[cut] != '\r' && line[cut] != '\0') ++cut;
    if (cut == line.size()) {
      // A full buffer without a line end: "Line too long", unless the file ended.
      const bool at_end = take < k_max_line - 1 && pos == text.size();
      if (!at_end) return stop();
    } else {
      if (line[cut] == '\0' && pos != text.size()) return stop();  // libpci sees the NUL as the end
      line = line.substr(0, cut);
    }
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;

    const std::size_t nest = line.find_first_not_of('\t');
    std::string_view p = line.substr(nest);
    std::size_t name_at = 0;
    if (nest == 0) {
      if (!on_top(offset)) return;
      if (p.size() >= 2 && p[0] == 'C' && p[1] == ' ') {
        if ((id1 = hex_at(p, 2, 2)) < 0 || !white_at(p, 4)) return stop();
        cat = C::class_entry;
        name_at = 5;
      } else if (p.size() >= 2 && p[0] == 'S' && p[1] == ' ') {
        if ((id1 = hex_at(p, 2, 4)) < 0 || p.size() > 6) return stop();
        // libpci: "Vendor does not exist" unless the vendor came before.
        if (!on_entry(C::category_count, id1, 0, 0, 0, std::string_view(), line_number, offset, pos)) {
          return stop();
        }
        cat = C::generic_subsystem_entry;
        continue;
      } else if (p.size() >= 2 && p[0] >= 'A' && p[0] <= 'Z' && p[1] == ' ') {
        cat = C::category_count;  // a block libpci does not know: skipped with its entries
        continue;
      } else {
        if ((id1 = hex_at(p, 0, 4)) < 0 || !white_at(p, 4)) return stop();
        cat = C::vendor_entry;
        name_at = 5;
      }
      id2 = id3 = id4 = 0;
    } else if (cat == C::category_count) {
      continue;
    } else if (nest == 1) {
      switch (cat) {
        case C::vendor_entry:
        case C::device_entry:
        case C::subsystem_entry:
          if ((id2 = hex_at(p, 0, 4)) < 0 || !white_at(p, 4)) return stop();
          name_at = 5;
          cat = C::device_entry;
          id3 = id4 = 0;
          break;
        case C::generic_subsystem_entry:
          if ((id2 = hex_at(p, 0, 4)) < 0 || !white_at(p, 4)) return stop();
          name_at = 5;
          id3 = id4 = 0;
          break;
        case C::class_entry:
        case C::subclass_entry:
        case C::progif_entry:
          if ((id2 = hex_at(p, 0, 2)) < 0 || !white_at(p, 2)) return stop();
          name_at = 3;
          cat = C::subclass_entry;
          id3 = id4 = 0;
          break;
        default: return stop();
      }
    } else if (nest == 2) {
      switch (cat) {
        case C::device_entry:
        case C::subsystem_entry:
          if ((id3 = hex_at(p, 0, 4)) < 0 || !white_at(p, 4) || (id4 = hex_at(p, 5, 4)) < 0 ||
              !white_at(p, 9)) {
            return stop();
          }
          name_at = 10;
          cat = C::subsystem_entry;
          break;
        case C::class_entry:
        case C::subclass_entry:
        case C::progif_entry:
          if ((id3 = hex_at(p, 0, 2)) < 0 || !white_at(p, 2)) return stop();
          name_at = 3;
          cat = C::progif_entry;
          id4 = 0;
          break;
        default: return stop();
      }
    } else {
      return stop();
    }
    std::string_view name = p.substr(std::min(name_at, p.size()));
    name.remove_prefix(std::min(name.find_first_not_of(" \t"), name.size()));
    if (name.empty()) return stop();
    if (!on_entry(static_cast<C>(cat), id1, id2, id3, id4, name, line_number, offset, pos)) {
      return stop();  // libpci: "Duplicate entry"
    }
  }
}

}  // namespace

PciIdsNames::PciIdsNames(std::string text) : m_owned(std::move(text)), m_text(m_owned) {
  parse();
}

PciIdsNames::PciIdsNames(std::string_view text, Borrowed) : m_text(text) { parse(); }

bool PciIdsNames::insert(Category category, std::uint64_t k, std::string_view name,
                         std::uint32_t block) const {
  if (2 * (m_used + 1) > m_slots.size()) {
    // Keep the table at most half full: double it and put every entry back.
    std::vector<Slot> old(m_slots.size() * 2);
    old.swap(m_slots);
    m_used = 0;
    for (const Slot& slot : old) {
      if (slot.length != 0) {
        insert(static_cast<Category>(slot.category), slot.key,
               m_text.substr(slot.offset, slot.length), slot.block);
      }
    }
  }
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = slot_hash(k, category) & mask;; i = (i + 1) & mask) {
    Slot& slot = m_slots[i];
    if (slot.length == 0) {
      slot = Slot{k, static_cast<std::uint32_t>(name.data() - m_text.data()),
                  static_cast<std::uint16_t>(name.size()), static_cast<std::uint8_t>(category),
                  block};
      ++m_used;
      return true;
    }
    if (slot.key == k && slot.category == category) return false;
  }
}

const PciIdsNames::Slot* PciIdsNames::probe(Category category, std::uint64_t k) const {
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = slot_hash(k, category) & mask;; i = (i + 1) & mask) {
    const Slot& slot = m_slots[i];
    if (slot.length == 0) return nullptr;
    if (slot.key == k && slot.category == category) return &slot;
  }
}

void PciIdsNames::parse() {
  m_slots.resize(8192);  // vendors and classes of a current pci.ids: ~2800
  // Vendors, classes and generic subsystems go into the table now. A
  // vendor's devices and subsystems (nine entries in ten) are only checked
  // for duplicates, within the vendor's block, and indexed at its first
  // lookup (vendor_entries); libpci inserts all of them into its hash.
  struct Seen {
    std::uint64_t key;
    std::size_t line;
    std::size_t offset;
  };
  std::vector<Seen> seen;
  bool in_block = false;
  // Ends the open vendor block at `end`; a duplicate in it stops the parse
  // there, at the first line that repeats an entry.
  const auto close_block = [&](std::size_t end) {
    if (!in_block) return true;
    in_block = false;
    std::sort(seen.begin(), seen.end(), [](const Seen& a, const Seen& b) {
      return a.key != b.key ? a.key < b.key : a.line < b.line;
    });
    const Seen* repeat = nullptr;
    for (std::size_t i = 1; i < seen.size(); ++i) {
      if (seen[i].key == seen[i - 1].key && (repeat == nullptr || seen[i].line < repeat->line)) {
        repeat = &seen[i];
      }
    }
    Block& block = m_blocks.back();
    block.end = static_cast<std::uint32_t>(repeat != nullptr ? repeat->offset : end);
    if (repeat != nullptr) m_error_line = repeat->line;
    seen.clear();
    return repeat == nullptr;
  };
  const std::string_view text = m_text;
  const auto u = [](int id) { return static_cast<unsigned>(id); };
  scan(
      text, 0, text.size(), -1, 0, close_block,
      [&](Category category, int id1, int id2, int id3, int id4, std::string_view name,
          std::size_t line, std::size_t offset, std::size_t next) {
        switch (category) {
          case category_count:  // an `S` line: its vendor must exist
            return probe(vendor_entry, key(u(id1))) != nullptr;
          case vendor_entry:
            if (!insert(vendor_entry, key(u(id1)), name,
                        static_cast<std::uint32_t>(m_blocks.size()))) {
              return false;
            }
            m_blocks.push_back(Block{static_cast<std::uint32_t>(next),
                                     static_cast<std::uint32_t>(next), false});
            in_block = true;
            return true;
          case device_entry:
          case subsystem_entry:
            seen.push_back(Seen{static_cast<std::uint64_t>(category == subsystem_entry) << 63 |
                                    key(0, u(id2), u(id3), u(id4)),
                                line, offset});
            return true;
          default: return insert(category, key(u(id1), u(id2), u(id3), u(id4)), name);
        }
      },
      [&](std::size_t line, std::size_t offset) {
        if (close_block(offset)) m_error_line = line;
      });
  if (m_error_line == 0) close_block(text.size());
  m_vendor_entries.resize(m_blocks.size());
}

const std::vector<PciIdsNames::Entry>& PciIdsNames::vendor_entries(std::uint16_t vendor_id) const {
  static const std::vector<Entry> none;
  const Slot* vendor = probe(vendor_entry, key(vendor_id));
  if (vendor == nullptr) return none;
  Block& block = m_blocks[vendor->block];
  if (block.indexed) return m_vendor_entries[vendor->block];
  block.indexed = true;
  // The block was read once already: the same lines, the same entries, with
  // no repeats. Sorted by key for binary search.
  std::vector<Entry>& entries = m_vendor_entries[vendor->block];
  const auto u = [](int id) { return static_cast<unsigned>(id); };
  scan(
      m_text, block.begin, block.end, vendor_entry, vendor_id, [](std::size_t) { return false; },
      [&](Category category, int, int id2, int id3, int id4, std::string_view name, std::size_t,
          std::size_t, std::size_t) {
        entries.push_back(Entry{static_cast<std::uint64_t>(category == subsystem_entry) << 63 |
                                    key(0, u(id2), u(id3), u(id4)),
                                static_cast<std::uint32_t>(name.data() - m_text.data()),
                                static_cast<std::uint16_t>(name.size())});
        return true;
      },
      [](std::size_t, std::size_t) {});
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  return entries;
}

std::optional<std::string_view> PciIdsNames::find(Category category, std::uint64_t k) const {
  if (category == device_entry || category == subsystem_entry) {
    const std::vector<Entry>& entries = vendor_entries(static_cast<std::uint16_t>(k >> 48));
    const std::uint64_t wanted =
        static_cast<std::uint64_t>(category == subsystem_entry) << 63 | (k & 0xffffffffffffull);
    const auto it = std::lower_bound(entries.begin(), entries.end(), wanted,
                                     [](const Entry& e, std::uint64_t v) { return e.key < v; });
    if (it == entries.end() || it->key != wanted) return std::nullopt;
    return m_text.substr(it->offset, it->length);
  }
  const Slot* slot = probe(category, k);
  if (slot == nullptr) return std::nullopt;
  return m_text.substr(slot->offset, slot->length);
}

std::string PciIdsNames::vendor(std::uint16_t vendor_id) const {
  if (const auto name = find(vendor_entry, key(vendor_id))) return formatted(std::string(*name));
  return "Vendor " + hex4(vendor_id);
}

std::string PciIdsNames::device(std::uint16_t vendor_id, std::uint16_t device_id) const {
  if (const auto name = find(device_entry, key(vendor_id, device_id))) {
    return formatted(std::string(*name));
  }
  return "Device " + hex4(device_id);
}

std::string PciIdsNames::subsystem(std::uint16_t vendor_id, std::uint16_t device_id,
                                   std::uint16_t subsystem_vendor_id,
                                   std::uint16_t subsystem_device_id) const {
  // libpci's id_lookup_subsys(): this device's entry, then the generic one,
  // then the device itself when the subsystem ids are its own.
  std::optional<std::string_view> name;
  if (vendor_id > 0 && device_id > 0) {
    name = find(subsystem_entry, key(vendor_id, device_id, subsystem_vendor_id, subsystem_device_id));
  }
  if (!name) name = find(generic_subsystem_entry, key(subsystem_vendor_id, subsystem_device_id));
  if (!name && vendor_id == subsystem_vendor_id && device_id == subsystem_device_id) {
    name = find(device_entry, key(vendor_id, device_id));
  }
  if (name) return formatted(std::string(*name));
  return "Device " + hex4(subsystem_device_id);
}

std::string PciIdsNames::class_name(std::uint32_t class_code) const {
  const unsigned icls = (class_code >> 8) & 0xffffu;
  if (const auto name = find(subclass_entry, key(icls >> 8, icls & 0xff))) {
    return formatted(std::string(*name));
  }
  if (const auto name = find(class_entry, key(icls >> 8))) {
    return formatted(std::string(*name) + " [" + hex4(icls) + "]");
  }
  return "Class " + hex4(icls);
}

}  // namespace pcipass::core
