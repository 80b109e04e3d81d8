#pragma once

// The OS operations host preparation needs outside sysfs: loading a kernel
// module, and reading, writing and re-permissioning files (journal, udev
// rules, limits.d). Only src/cli/main.cpp builds the real one; tests pass a
// fake that can fail or crash at any step.

#include <pcipass/core/error.hpp>

#include <sys/types.h>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pcipass::host {

// The mode bits, group and owner of a file; `group` is "" when its gid has no name.
struct FileMode {
  unsigned mode = 0;
  std::string group;
  unsigned owner = 0;  // uid
};

class Os {
 public:
  virtual ~Os() = default;

  // Loads kernel module `name` with its dependencies (modprobe). Fails with
  // ExitCode::host_error and the reason.
  [[nodiscard]] virtual core::Status load_module(std::string_view name) = 0;
  // The whole content of `path`, or nullopt when it does not exist.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> read_file(
      const std::filesystem::path& path) const = 0;
  // Replaces `path` atomically (AtomicFile: temporary, fsync, rename) with
  // `mode`, first removing temporaries a killed run left beside it (callers
  // hold the state lock, so no other run is writing it). A symbolic link or
  // anything but a regular file at `path` is refused (Target::plain_only).
  [[nodiscard]] virtual core::Status write_file(const std::filesystem::path& path,
                                                std::string_view bytes, mode_t mode) = 0;
  // Sets the mode of `path` and, when `group` is not empty, its group.
  [[nodiscard]] virtual core::Status set_permissions(const std::filesystem::path& path, mode_t mode,
                                                     const std::string& group) = 0;
  // Creates folder `path` and its parents when missing, each with mode 0755
  // whatever the umask.
  [[nodiscard]] virtual core::Status make_directories(const std::filesystem::path& path) = 0;
  // The mode and group of `path` (following links), or nullopt when it does not exist.
  [[nodiscard]] virtual core::Result<std::optional<FileMode>> file_mode(
      const std::filesystem::path& path) const = 0;
  // Removes file `path`; one that does not exist is no error.
  [[nodiscard]] virtual core::Status remove_file(const std::filesystem::path& path) = 0;
  // Whether this machine knows group `name` (getgrnam: /etc/group, LDAP, ...),
  // so that files can be given to it.
  [[nodiscard]] virtual bool has_group(const std::string& name) const;
};

// Creates folder `path` and its missing parents with exactly `mode` (the
// umask does not widen or narrow it); folders already there are left as
// they are. Fails with ExitCode::host_error naming the folder.
core::Status make_folders(const std::filesystem::path& path, mode_t mode = 0755);

// Whether RealOs may run modprobe. Loading a module changes the running
// kernel, so main allows it only when the sysfs root is the real /sys.
enum class ModuleLoading { modprobe, refused };

// The Os of this machine.
class RealOs final : public Os {
 public:
  // With ModuleLoading::refused, load_module() fails and says `why`.
  RealOs(ModuleLoading loading, std::string why);

  core::Status load_module(std::string_view name) override;
  core::Result<std::optional<std::string>> read_file(
      const std::filesystem::path& path) const override;
  core::Status write_file(const std::filesystem::path& path, std::string_view bytes,
                          mode_t mode) override;
  core::Status set_permissions(const std::filesystem::path& path, mode_t mode,
                               const std::string& group) override;
  core::Status make_directories(const std::filesystem::path& path) override;
  core::Result<std::optional<FileMode>> file_mode(const std::filesystem::path& path) const override;
  core::Status remove_file(const std::filesystem::path& path) override;

 private:
  ModuleLoading m_loading;
  std::string m_why;
};

}  // namespace pcipass::host
