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

core::Result<AtomicFile> AtomicFile::create(const std::filesystem::path& path, mode_t mode) {
  if ((mode & S_IWOTH) != 0) {
    return fail("writing " + path.string() + ": refusing a world-writable mode", ExitCode::failure);
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

core::Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                   mode_t mode) {
  auto file = AtomicFile::create(path, mode);
  if (!file) return core::fail(file.error());
  if (auto s = file->write(content); !s) return s;
  return file->commit();
}

}  // namespace pcipass::host
