#pragma once

// The journal file and the lock of a state folder (`--state-dir`, default
// /var/lib/pcipass): `journal.json`, rewritten atomically through Os after
// every change, and `lock`, held with flock() for the whole of a changing run.

#include <pcipass/core/journal_state.hpp>
#include <pcipass/host/os.hpp>

#include <filesystem>
#include <functional>

namespace pcipass::host {

inline constexpr const char* k_default_state_dir = "/var/lib/pcipass";

// The journal of one state folder, loaded into memory; save() writes it back.
class Journal {
 public:
  // Reads `state_dir`/journal.json; a missing file or folder is an empty
  // journal. Fails with ExitCode::bad_input when the file is not a journal,
  // and with ExitCode::refused when the folder or the file is group- or
  // world-writable or owned by someone other than root or this user.
  // `through` is the host the run acts on ("" for this machine, else the
  // libvirt URI of another host): a journal holding an entry made on any
  // other host is refused (ExitCode::refused), so no run ever plans from
  // another host's records.
  static core::Result<Journal> load(Os& os, const std::filesystem::path& state_dir,
                                    const std::string& through = "");

  [[nodiscard]] core::JournalState& state() { return m_state; }
  [[nodiscard]] const core::JournalState& state() const { return m_state; }
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

  // Writes the state atomically (mode 0644), creating the folder when missing.
  [[nodiscard]] core::Status save();

 private:
  Journal(Os& os, std::filesystem::path path) : m_os(&os), m_path(std::move(path)) {}
  Os* m_os;
  std::filesystem::path m_path;
  core::JournalState m_state;
};

// What the files of the journal's WriteFile and SetPermissions entries look
// like now: mode and group, and for written files their content. Fails with
// ExitCode::host_error when one cannot be read.
core::Result<core::FileStates> read_file_states(const Os& os, const core::JournalState& journal);

// Whether a run waits for another run's lock or gives up at once.
enum class Wait { yes, no };

// Exclusive use of a state folder: an flock() on `state_dir`/lock, released
// by the destructor (and by the kernel when the process dies, so a killed
// run never leaves a stale lock). The lock file is the one file pcipass
// does not write atomically: flock() needs an inode that stays put, and it
// holds no content.
class StateLock {
 public:
  // Takes the lock. With Wait::yes, calls `on_wait` once when another run
  // holds it, then blocks; with Wait::no, fails with ExitCode::busy.
  static core::Result<StateLock> acquire(const std::filesystem::path& state_dir, Wait wait,
                                         const std::function<void()>& on_wait = {});
  StateLock(StateLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  StateLock& operator=(StateLock&&) = delete;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

}  // namespace pcipass::host
