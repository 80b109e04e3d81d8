#pragma once

// What pcipass has applied to a host, or is applying: the content of the
// journal file, as data. host::Journal reads and writes it; this part is
// pure so the crash rules can be tested without a file system.

#include <pcipass/core/actions.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pcipass::core {

// Where an action stands: recorded before it is made (pending), made
// (done), or stopped by an error (failed, with the message).
enum class EntryState { pending, done, failed };

// "pending", "done", "failed".
const char* to_string(EntryState state);

struct JournalEntry {
  std::uint64_t id = 0;
  Action action;
  EntryState state = EntryState::pending;
  std::string error;  // the message, for failed entries
};

// The journal: the actions whose effects are (or may be) on the host now.
// Entries leave it only when their effect is undone: a done release removes
// the device's bind entry with it. So after a crash at any point every
// device pcipass may have touched still has a bind entry holding the driver
// to give it back to.
class JournalState {
 public:
  // Records `action` as pending and returns its id. A bind replaces the
  // entries (bind or release) an earlier run left for the same address.
  std::uint64_t begin(const Action& action);
  // Marks entry `id` done. A done release removes itself and the bind entry
  // of its address: the device is back where it was.
  void finish(std::uint64_t id);
  // Marks entry `id` failed with `error`.
  void mark_failed(std::uint64_t id, const std::string& error);

  [[nodiscard]] const std::vector<JournalEntry>& entries() const { return m_entries; }
  // The bind entry of `address`, or nullptr.
  [[nodiscard]] const JournalEntry* bind_entry(const PciAddress& address) const;
  // Every bind entry, in journal order.
  [[nodiscard]] std::vector<const JournalEntry*> bind_entries() const;
  [[nodiscard]] bool empty() const { return m_entries.empty(); }

  // The journal file's text: JSON, {"format": "pcipass-journal", "version": 1, ...}.
  [[nodiscard]] std::string to_text() const;
  // Parses to_text()'s output. Fails with ExitCode::bad_input saying what is wrong.
  static Result<JournalState> parse(std::string_view text);

 private:
  JournalEntry* find(std::uint64_t id);
  std::uint64_t m_next_id = 1;
  std::vector<JournalEntry> m_entries;
};

}  // namespace pcipass::core
