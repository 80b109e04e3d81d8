#include <pcipass/host/os.hpp>

#include <pcipass/host/atomic_file.hpp>

#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace pcipass::host {

using core::ExitCode;
using core::fail;

RealOs::RealOs(ModuleLoading loading, std::string why)
    : m_loading(loading), m_why(std::move(why)) {}

core::Status RealOs::load_module(std::string_view name) {
  const std::string module(name);
  if (m_loading == ModuleLoading::refused) {
    return fail("loading kernel module " + module + ": " + m_why, ExitCode::host_error);
  }
  std::vector<char*> argv{const_cast<char*>("modprobe"), const_cast<char*>("--"),
                          const_cast<char*>(module.c_str()), nullptr};
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, "modprobe", nullptr, nullptr, argv.data(), environ);
  if (err != 0) {
    return fail("loading kernel module " + module + ": running modprobe: " + std::strerror(err),
                ExitCode::host_error);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return fail(
          "loading kernel module " + module + ": waiting for modprobe: " + std::strerror(errno),
          ExitCode::host_error);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(
        "loading kernel module " + module + ": modprobe " + module + " failed (exit status " +
            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) +
            "); is the module installed for the running kernel?",
        ExitCode::host_error);
  }
  return core::ok();
}

core::Result<std::optional<std::string>> RealOs::read_file(
    const std::filesystem::path& path) const {
  // O_NONBLOCK: a FIFO put where a file was expected must not hang the run.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return fail("reading " + path.string() + ": " + std::strerror(errno), ExitCode::host_error);
  }
  std::string out;
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  int error = 0;
  if (regular) {
    char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        out.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        error = errno;
        break;
      }
    }
  }
  ::close(fd);
  if (!regular) return fail("reading " + path.string() + ": not a regular file", ExitCode::bad_input);
  if (error != 0) {
    return fail("reading " + path.string() + ": " + std::strerror(error), ExitCode::host_error);
  }
  return std::optional<std::string>(std::move(out));
}

core::Status RealOs::write_file(const std::filesystem::path& path, std::string_view bytes,
                                mode_t mode) {
  remove_stale_temporaries(path);  // callers hold the state lock
  return write_file_atomically(path, bytes, mode);
}

core::Status RealOs::set_permissions(const std::filesystem::path& path, mode_t mode,
                                     const std::string& group) {
  if ((mode & S_IWOTH) != 0) {
    return fail("changing the mode of " + path.string() + ": refusing a world-writable mode",
                ExitCode::failure);
  }
  // Never through a link: chmod would change the file it names, wherever that is.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return fail("changing the mode of " + path.string() +
                    ": it is a symbolic link, which pcipass never follows there",
                ExitCode::host_error);
  }
  if (!group.empty()) {
    std::vector<char> buffer(16384);
    struct group entry {};
    struct group* found = nullptr;
    const int err = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
      return fail("changing the group of " + path.string() + " to " + group + ": " +
                      (err != 0 ? std::strerror(err) : "no such group"),
                  ExitCode::host_error);
    }
    if (::fchownat(AT_FDCWD, path.c_str(), static_cast<uid_t>(-1), found->gr_gid,
                   AT_SYMLINK_NOFOLLOW) != 0) {
      return fail(
          "changing the group of " + path.string() + " to " + group + ": " + std::strerror(errno),
          ExitCode::host_error);
    }
  }
  if (::fchmodat(AT_FDCWD, path.c_str(), mode, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail("changing the mode of " + path.string() + ": " + std::strerror(errno),
                ExitCode::host_error);
  }
  return core::ok();
}

bool Os::has_group(const std::string& name) const {
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  return ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
         found != nullptr;
}

core::Status make_folders(const std::filesystem::path& path, mode_t mode) {
  if (path.empty()) return core::ok();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return core::ok();
    return fail("creating " + path.string() + ": " + std::strerror(ENOTDIR), ExitCode::host_error);
  }
  if (path.has_parent_path() && path.parent_path() != path) {
    if (auto parent = make_folders(path.parent_path(), mode); !parent) return parent;
  }
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST) return core::ok();  // made meanwhile by someone else: theirs
    return fail("creating " + path.string() + ": " + std::strerror(errno), ExitCode::host_error);
  }
  // mkdir() applies the umask: 0 would leave a world-writable folder, 077 one
  // the group set up by `permissions` cannot enter. Only the folder made here.
  if (::chmod(path.c_str(), mode) != 0)
    return fail("creating " + path.string() + ": " + std::strerror(errno), ExitCode::host_error);
  return core::ok();
}

core::Status RealOs::make_directories(const std::filesystem::path& path) {
  return make_folders(path, 0755);
}

core::Result<std::optional<FileMode>> RealOs::file_mode(const std::filesystem::path& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<FileMode>();
    return fail("reading the mode of " + path.string() + ": " + std::strerror(errno),
                ExitCode::host_error);
  }
  FileMode mode{static_cast<unsigned>(st.st_mode & 07777), {}, static_cast<unsigned>(st.st_uid)};
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  if (::getgrgid_r(st.st_gid, &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    mode.group = found->gr_name;
  }
  return std::optional<FileMode>(mode);
}

core::Status RealOs::remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail("removing " + path.string() + ": " + std::strerror(errno), ExitCode::host_error);
  }
  return core::ok();
}

}  // namespace pcipass::host
