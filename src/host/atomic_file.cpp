#include <pcipass/host/atomic_file.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcipass::host {

using core::ExitCode;
using core::fail;

namespace {

AtomicFileFaultHook& fault_hook() {
  static AtomicFileFaultHook hook;
  return hook;
}

// The errno the fault hook injects before `step`, else 0.
int injected_fault(AtomicFileStep step, const std::filesystem::path& path) {
  return fault_hook() ? fault_hook()(step, path) : 0;
}

core::Unexpected os_error(const std::string& action, const std::filesystem::path& path, int err) {
  return fail(action + " " + path.string() + ": " + std::strerror(err), ExitCode::host_error);
}

}  // namespace

void set_atomic_file_fault_hook(AtomicFileFaultHook hook) {
  fault_hook() = std::move(hook);
}

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

core::Unexpected refuse(const std::filesystem::path& path, const std::string& why) {
  return fail("writing " + path.string() + ": " + why, ExitCode::refused);
}

}  // namespace

core::Result<AtomicFile> AtomicFile::create(const std::filesystem::path& requested, mode_t mode,
                                            Target target) {
  if ((mode & S_IWOTH) != 0) {
    return fail("writing " + requested.string() + ": refusing a world-writable mode",
                ExitCode::failure);
  }
  std::filesystem::path path = requested;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      if (target == Target::plain_only) {
        return refuse(path, "it is a symbolic link, and pcipass replaces only regular files there");
      }
      if (::stat(requested.c_str(), &st) != 0) {
        return refuse(requested, std::string("it is a symbolic link to a missing file (") +
                                     std::strerror(errno) + ")");
      }
      // A file is replaced where it really is; a stream (/dev/stdout ->
      // /proc/self/fd/1 -> pipe:[N]) is opened through the link.
      if (S_ISREG(st.st_mode)) {
        std::error_code ec;
        path = std::filesystem::canonical(requested, ec);
        if (ec) return os_error("writing", requested, ec.value());
      }
    }
    const bool stream = S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode);
    if (stream && target == Target::stream_or_follow) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) return os_error("writing", requested, errno);
      return AtomicFile(path, {}, fd);  // no temporary: written straight into
    }
    if (!S_ISREG(st.st_mode)) {
      return refuse(requested, std::string("it is ") + kind_of(st.st_mode) +
                                   ", and pcipass never replaces one with a file");
    }
    if (st.st_nlink > 1) {
      return refuse(requested, "it has " + std::to_string(st.st_nlink) +
                                   " hard links, which replacing it would split; edit a copy");
    }
  } else if (errno != ENOENT) {
    return os_error("writing", requested, errno);
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string temp = (dir / ("." + path.filename().string() + ".pcipass-XXXXXX")).string();
  if (const int err = injected_fault(AtomicFileStep::create, path); err != 0)
    return os_error("writing", path, err);
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return os_error("writing", path, errno);
  if (::fchmod(fd, mode) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return os_error("writing", path, err);
  }
  return AtomicFile(path, temp, fd);
}

AtomicFile::AtomicFile(std::filesystem::path path, std::filesystem::path temp, int fd)
    : m_path(std::move(path)), m_temp(std::move(temp)), m_fd(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_temp(std::move(other.m_temp)), m_fd(other.m_fd) {
  other.m_fd = -1;
  other.m_temp.clear();
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (!m_temp.empty()) ::unlink(m_temp.c_str());
  m_temp.clear();
}

core::Status AtomicFile::chown(uid_t owner, gid_t group) {
  if (m_fd < 0) return fail("writing " + m_path.string() + ": file already closed", ExitCode::failure);
  if (m_temp.empty()) return core::ok();  // a device or FIFO keeps its owner
  // Keeping the owner is best effort for unprivileged users: they can only
  // write files they could have written anyway.
  int err = injected_fault(AtomicFileStep::chown, m_path);
  if (err == 0 && ::fchown(m_fd, owner, group) != 0 && errno != EPERM) err = errno;
  if (err != 0) {
    discard();
    return os_error("writing", m_path, err);
  }
  return core::ok();
}

core::Status AtomicFile::write(std::string_view bytes) {
  if (m_fd < 0) return fail("writing " + m_path.string() + ": file already closed", ExitCode::failure);
  if (const int err = injected_fault(AtomicFileStep::write, m_path); err != 0) {
    discard();
    return os_error("writing", m_path, err);
  }
  while (!bytes.empty()) {
    const ssize_t n = ::write(m_fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      return os_error("writing", m_path, err);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return core::ok();
}

core::Status AtomicFile::commit() {
  if (m_fd < 0) return fail("writing " + m_path.string() + ": file already closed", ExitCode::failure);
  if (m_temp.empty()) {  // a device or FIFO: nothing to sync or rename
    const int closed = ::close(m_fd);
    m_fd = -1;
    if (closed != 0) return os_error("writing", m_path, errno);
    return core::ok();
  }
  int err = injected_fault(AtomicFileStep::fsync, m_path);
  if (err == 0 && ::fsync(m_fd) != 0) err = errno;
  if (err != 0) {
    discard();
    return os_error("writing", m_path, err);
  }
  if (::close(m_fd) != 0) {
    m_fd = -1;
    err = errno;
    discard();
    return os_error("writing", m_path, err);
  }
  m_fd = -1;
  err = injected_fault(AtomicFileStep::rename, m_path);
  if (err == 0 && ::rename(m_temp.c_str(), m_path.c_str()) != 0) err = errno;
  if (err != 0) {
    discard();
    return os_error("writing", m_path, err);
  }
  m_temp.clear();
  // Make the rename itself durable.
  std::filesystem::path dir = m_path.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return core::ok();
}

void remove_stale_temporaries(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const std::string prefix = "." + path.filename().string() + ".pcipass-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // mkostemp's six characters, and nothing else: never a user's file.
    if (name.size() == prefix.size() + 6 && name.starts_with(prefix) &&
        entry.is_regular_file(ec) && !entry.is_symlink(ec)) {
      ::unlink(entry.path().c_str());
    }
  }
}

core::Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                   mode_t mode, Target target) {
  auto file = AtomicFile::create(path, mode, target);
  if (!file) return core::fail(file.error());
  if (auto s = file->write(content); !s) return s;
  return file->commit();
}

}  // namespace pcipass::host
