#pragma once

#include <pcipass/core/error.hpp>

#include <filesystem>
#include <functional>
#include <string_view>
#include <sys/types.h>

namespace pcipass::host {

// What AtomicFile::create accepts at the target path besides a missing file
// or a regular file with one name. It never renames over anything else: not
// over a device node (`-o /dev/null` as root would replace the machine's
// /dev/null), a symbolic link (the definition it points to would get
// nothing) or a file with several hard links (they would be split).
enum class Target {
  plain_only,    // anything else is refused (journal, udev rules, limits.d)
  follow_links,  // a link to a plain file: that file is replaced, the link kept (domain XML)
  // Also a character device or FIFO (/dev/stdout, a pipe), written straight
  // into, not atomically: the outputs a person names (kconfig -o, plan --write-*).
  stream_or_follow,
};

// Writes a file so that readers see either the old content or the whole new
// one, never a mix: the bytes go to a temporary file in the same folder,
// which commit() fsyncs and renames over the target (then fsyncs the
// folder). Without commit() the destructor removes the temporary file and
// the target stays as it was. Every file pcipass writes outside sysfs goes
// through this class (docs/architecture.md, "The journal").
class AtomicFile {
public:
  // Starts replacing `path`; the new file gets `mode` (never world-writable:
  // the o+w bit is refused). Fails with ExitCode::host_error when the folder
  // is missing or not writable, and with ExitCode::refused when `path` is
  // something `target` does not accept, naming what it is.
  static core::Result<AtomicFile> create(const std::filesystem::path& path, mode_t mode = 0644,
                                         Target target = Target::plain_only);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Gives the new file this owner and group (root only; others get EPERM).
  [[nodiscard]] core::Status chown(uid_t owner, gid_t group);
  // Appends `bytes` to the new content.
  [[nodiscard]] core::Status write(std::string_view bytes);
  // Makes the new content visible under the target path. After a failure the
  // target is unchanged and the temporary file is gone.
  [[nodiscard]] core::Status commit();

  // The file written: the target itself, or the file a link to it names.
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
  AtomicFile(std::filesystem::path path, std::filesystem::path temp, int fd);
  void discard();

  std::filesystem::path m_path;
  std::filesystem::path m_temp;
  int m_fd = -1;
};

// The steps of an atomic write that touch the disk, in order: creating the
// temporary file, giving it its owner, writing, fsync, rename.
enum class AtomicFileStep { create, chown, write, fsync, rename };

// Called before each step with the target path: a non-zero errno makes the
// step fail with it, exactly as if its system call had. Only tests set one
// (nothing in src/ does): the promise of AtomicFile is about a disk that is
// full, read-only or failing at any step, and tests run as root (modes do
// not stop it) on a tmpfs (no EIO), so no other way reaches those paths.
using AtomicFileFaultHook = std::function<int(AtomicFileStep, const std::filesystem::path&)>;

// Replaces the process-wide fault hook; an empty one injects nothing.
void set_atomic_file_fault_hook(AtomicFileFaultHook hook);

// Removes the temporary files an AtomicFile of `path` leaves when its
// process is killed (`.NAME.pcipass-XXXXXX` beside it). Only for callers
// that hold a lock keeping other writers of `path` away (the state lock,
// a domain file's flock): another run's temporary would vanish mid-write.
void remove_stale_temporaries(const std::filesystem::path& path);

// Writes `content` to `path` atomically with `mode`, in one call.
core::Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                   mode_t mode = 0644, Target target = Target::plain_only);

}  // namespace pcipass::host
