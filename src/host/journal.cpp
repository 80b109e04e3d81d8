#include <pcipass/host/journal.hpp>

#include <pcipass/core/text.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace pcipass::host {

using core::ExitCode;
using core::fail;

namespace {

// A journal tells restore, run as root at boot, what to bind and which files
// to write: like sudo with a writable sudoers, refuse one that anyone but
// root (or the user running pcipass) could have changed.
core::Status check_trusted(const Os& os, const std::filesystem::path& path, const char* what) {
  auto mode = os.file_mode(path);
  if (!mode) return fail(mode.error());
  if (!mode->has_value()) return core::ok();
  const FileMode& m = **mode;
  const unsigned me = static_cast<unsigned>(::geteuid());
  if ((m.mode & 022) != 0 || (m.owner != 0 && m.owner != me)) {
    return fail("refusing the journal: its " + std::string(what) + " " + path.string() +
                    " could be changed by others (mode " + core::octal(m.mode) + ", owner uid " +
                    std::to_string(m.owner) + "); make it owned by root and not group- or " +
                    "world-writable (chown root; chmod go-w)",
                ExitCode::refused);
  }
  return core::ok();
}

}  // namespace

namespace {

std::string host_name(const std::string& through) {
  if (through.empty()) return "this machine";
  return "the host libvirt reaches at '" + core::sanitize_untrusted(through) + "'";
}

}  // namespace

core::Result<Journal> Journal::load(Os& os, const std::filesystem::path& state_dir,
                                    const std::string& through) {
  Journal journal(os, state_dir / "journal.json");
  if (auto trusted = check_trusted(os, state_dir, "folder"); !trusted) return fail(trusted.error());
  if (auto trusted = check_trusted(os, journal.m_path, "file"); !trusted)
    return fail(trusted.error());
  auto text = os.read_file(journal.m_path);
  if (!text) return fail(text.error());
  if (text->has_value()) {
    auto state = core::JournalState::parse(**text);
    if (!state) {
      return fail(state.error().with_context(
          "reading the journal " + journal.m_path.string() +
          " (move it away only after checking by hand which devices are still on vfio-pci)"));
    }
    journal.m_state = std::move(*state);
  }
  for (const core::JournalEntry& entry : journal.m_state.entries()) {
    const std::string made_on = core::action_through(entry.action);
    if (made_on == through) continue;
    const auto address = core::action_address(entry.action);
    return fail("refusing the journal " + journal.m_path.string() + ": it records " +
                    (address ? address->to_string() : std::string("a device")) + " on " +
                    host_name(made_on) + ", and this run acts on " + host_name(through) +
                    (made_on.empty() ? std::string(" (run pcipass without -c for it)")
                                     : " (run pcipass -c " + core::sanitize_untrusted(made_on) +
                                           " for it)"),
                ExitCode::refused);
  }
  return journal;
}

core::Status Journal::save() {
  if (auto made = m_os->make_directories(m_path.parent_path()); !made) return made;
  return m_os->write_file(m_path, m_state.to_text(), 0644);
}

core::Result<core::FileStates> read_file_states(const Os& os, const core::JournalState& journal) {
  core::FileStates states;
  for (const core::JournalEntry* entry : journal.file_entries()) {
    const std::string path = *core::action_path(entry->action);
    auto mode = os.file_mode(path);
    if (!mode) return fail(mode.error());
    core::FileState state;
    if (mode->has_value()) {
      state.exists = true;
      state.mode = (*mode)->mode;
      state.group = (*mode)->group;
    }
    // Only written files are read: sysfs attributes like unbind are write-only.
    if (state.exists && std::holds_alternative<core::WriteFile>(entry->action)) {
      auto bytes = os.read_file(path);
      if (!bytes) return fail(bytes.error());
      state.bytes = bytes->value_or("");
    }
    states[path] = std::move(state);
  }
  return states;
}

core::Result<StateLock> StateLock::acquire(const std::filesystem::path& state_dir, Wait wait,
                                           const std::function<void()>& on_wait) {
  if (auto made = make_folders(state_dir, 0755); !made) return fail(made.error());
  const std::string path = (state_dir / "lock").string();
  // O_NOFOLLOW: a link planted as the lock must not make root create or open the file it names.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ELOOP) {
    return fail("opening the lock " + path + ": it is a symbolic link, which pcipass never "
                "follows there; remove it",
                ExitCode::host_error);
  }
  if (fd < 0)
    return fail("opening the lock " + path + ": " + std::strerror(errno), ExitCode::host_error);
  StateLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
  if (errno != EWOULDBLOCK) {
    return fail("locking " + path + ": " + std::strerror(errno), ExitCode::host_error);
  }
  if (wait == Wait::no) {
    return fail("another pcipass run holds the lock " + path +
                    "; wait for it to finish, or run again without --no-wait to wait for it",
                ExitCode::busy);
  }
  if (on_wait) on_wait();
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR)
      return fail("locking " + path + ": " + std::strerror(errno), ExitCode::host_error);
  }
  return lock;
}

StateLock::~StateLock() {
  if (m_fd >= 0) ::close(m_fd);  // closing the only descriptor releases the flock
}

}  // namespace pcipass::host
