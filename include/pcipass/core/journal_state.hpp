#pragma once

// What pcipass has applied to a host, or is applying: the content of the
// journal file, as data. host::Journal reads and writes it; this part is
// pure so the crash rules can be tested without a file system.

#include <pcipass/core/actions.hpp>
#include <pcipass/core/host_identity.hpp>

#include <cstdint>
#include <map>
#include <optional>
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
// the device's bind entry with it, a done RemoveFile or RevertPermissions
// the entries of its path. So after a crash at any point every device and
// file pcipass may have touched still has an entry saying how to undo it.
class JournalState {
 public:
  // Records `action` as pending and returns its id. A VF count replaces the
  // PF's earlier one, keeping its `previous` (what the PF had before
  // pcipass) unless that one's serials are another card's; an undo of a VF count replaces the PF's earlier undo. A bind replaces the
  // entries (bind or release) an earlier run left for the same address, a
  // module load the earlier load of that module (restore loads it at every
  // boot); a WriteFile or SetPermissions the entries of its path (a SetPermissions
  // keeps the previous mode and group the earlier entry recorded: that is
  // what the file had before pcipass); an undo the earlier undo of its path.
  std::uint64_t begin(const Action& action);
  // Marks entry `id` done. A done release removes itself and the bind entry
  // of its address: the device is back where it was. A done undo removes
  // every entry of its path; a done VF count undo every VF count entry of
  // its PF.
  void finish(std::uint64_t id);
  // Marks entry `id` failed with `error`.
  void mark_failed(std::uint64_t id, const std::string& error);

  [[nodiscard]] const std::vector<JournalEntry>& entries() const { return m_entries; }
  // The bind entry of `address`, or nullptr.
  [[nodiscard]] const JournalEntry* bind_entry(const PciAddress& address) const;
  // Every bind entry, in journal order.
  [[nodiscard]] std::vector<const JournalEntry*> bind_entries() const;
  // Every WriteFile and SetPermissions entry, in journal order.
  [[nodiscard]] std::vector<const JournalEntry*> file_entries() const;
  // The VF count entry (not an undo) of each PF, in journal order: what
  // restore sets again and release --all gives back.
  [[nodiscard]] std::vector<const JournalEntry*> vf_count_entries() const;
  // True when an undo (release --all) of `path` was begun and not finished.
  [[nodiscard]] bool undo_pending(const std::string& path) const;
  [[nodiscard]] bool empty() const { return m_entries.empty(); }

  // The host the entries were made on, for the journal of another host
  // (a libvirt URI names a host today, maybe another one tomorrow); empty
  // for this machine's journal, which names none.
  [[nodiscard]] const HostIdentity& host() const { return m_host; }
  void set_host(HostIdentity host) { m_host = std::move(host); }

  // The journal file's text: JSON, {"format": "pcipass-journal", "version": 1, ...}.
  [[nodiscard]] std::string to_text() const;
  // Parses to_text()'s output. Fails with ExitCode::bad_input saying what is wrong.
  static Result<JournalState> parse(std::string_view text);

 private:
  JournalEntry* find(std::uint64_t id);
  std::uint64_t m_next_id = 1;
  std::vector<JournalEntry> m_entries;
  HostIdentity m_host;
};

// What a file the journal names looks like now, as host::read_file_states()
// finds it: its content (files outside sysfs only), mode and group.
struct FileState {
  bool exists = false;
  std::string bytes;
  unsigned mode = 0;
  std::string group;  // "" when its gid has no name
};

// FileState by path, for every path of the journal's file entries.
using FileStates = std::map<std::string, FileState>;

// Whether what a WriteFile or SetPermissions recorded holds in `now`: the
// file exists with the same mode and group (the group only when one was
// set) and, for a WriteFile, the same bytes. False for every other action.
bool recorded_file_holds(const Action& action, const FileState& now);

// `planned` without the WriteFile and SetPermissions actions already in
// effect: a done entry of `journal` recorded the same change (path, bytes,
// mode, group) and the file still holds it in `now` (read_file_states()).
// Such a change is journaled already (release --all still undoes it), so a
// second run of the same command plans nothing. `dropped` counts them.
std::vector<Action> changes_not_in_effect(std::vector<Action> planned, const JournalState& journal,
                                          const FileStates& now, std::size_t& dropped);

}  // namespace pcipass::core
