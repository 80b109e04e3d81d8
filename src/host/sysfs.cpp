#include <pcipass/host/sysfs.hpp>

#include "unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

namespace pcipass::host {

using core::ExitCode;
using core::fail;

namespace {

core::Unexpected os_error(const std::string& action, const std::string& path, int err) {
  return fail(action + " " + path + ": " + std::strerror(err), ExitCode::host_error);
}

}  // namespace

core::Result<std::optional<std::string>> Sysfs::read_if_present(std::string_view path,
                                                                 std::size_t max_bytes) const {
  auto content = read(path, max_bytes);
  if (content) return std::optional<std::string>(std::move(*content));
  if (!exists(path)) return std::optional<std::string>();
  return fail(content.error());
}

core::Result<std::optional<std::string>> Sysfs::read_link_if_present(std::string_view path) const {
  auto target = read_link(path);
  if (target) return std::optional<std::string>(std::move(*target));
  if (!exists(path)) return std::optional<std::string>();
  return fail(target.error());
}

namespace {

// open_attribute() of a Sysfs that keeps no descriptors: read_at() each time.
class ReadEachTime final : public Sysfs::OpenAttribute {
public:
  ReadEachTime(const Sysfs& sysfs, std::string_view path) : m_sysfs(sysfs), m_path(path) {}
  core::Result<std::string> read_at(std::size_t offset, std::size_t size) override {
    return m_sysfs.read_at(m_path, offset, size);
  }

private:
  const Sysfs& m_sysfs;
  std::string m_path;
};

}  // namespace

core::Result<std::unique_ptr<Sysfs::OpenAttribute>> Sysfs::open_attribute(
    std::string_view path) const {
  if (auto opened = read(path, 0); !opened) return fail(opened.error());
  return std::unique_ptr<OpenAttribute>(std::make_unique<ReadEachTime>(*this, path));
}

namespace {

// The folder a thread kept with keep_folder(): threads reading devices at
// once each keep their own, with no lock. `tree` is the RealSysfs's serial
// and `writes` its write count when the folder was kept.
struct KeptFolder {
  std::uint64_t tree = 0;
  std::uint64_t writes = 0;
  std::string path;
  int fd = -1;
  KeptFolder() = default;
  KeptFolder(const KeptFolder&) = delete;
  KeptFolder& operator=(const KeptFolder&) = delete;
  ~KeptFolder() { replace(-1); }
  void replace(int new_fd) {
    if (fd >= 0) ::close(fd);
    fd = new_fd;
    if (fd < 0) tree = 0;
  }
};

thread_local KeptFolder t_kept;
std::atomic<std::uint64_t> g_next_serial{1};

}  // namespace

RealSysfs::RealSysfs(std::filesystem::path root)
    : m_root(std::move(root)), m_serial(g_next_serial.fetch_add(1)) {}

RealSysfs::~RealSysfs() {
  if (t_kept.tree == m_serial) t_kept.replace(-1);
}

bool RealSysfs::keep_folder(std::string_view folder) const {
  t_kept.replace(::open(full(folder).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (t_kept.fd < 0) return false;
  t_kept.tree = m_serial;
  t_kept.writes = m_writes.load();
  t_kept.path = folder;
  return true;
}

template <class InFolder, class ByPath>
auto RealSysfs::at_path(std::string_view path, InFolder in_folder, ByPath by_path) const {
  std::string_view name;
  const int dir = cached_parent(path, name);
  if (dir >= 0) {
    char name_z[256];  // one sysfs name: NAME_MAX
    if (name.size() < sizeof name_z) {
      name.copy(name_z, name.size());
      name_z[name.size()] = '\0';
      return in_folder(dir, static_cast<const char*>(name_z));
    }
  }
  return by_path(full(path).c_str());
}

int RealSysfs::cached_parent(std::string_view path, std::string_view& name) const {
  if (t_kept.fd < 0 || t_kept.tree != m_serial || t_kept.writes != m_writes.load()) return -1;
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || path.substr(0, slash) != t_kept.path) return -1;
  name = path.substr(slash + 1);
  if (name.empty()) return -1;
  return t_kept.fd;
}

std::string RealSysfs::full(std::string_view path) const {
  std::string out = m_root.string();
  if (!path.empty()) {
    if (out.empty() || out.back() != '/') out += '/';
    out += path;
  }
  return out;
}

std::string RealSysfs::display_path(std::string_view path) const { return full(path); }

int RealSysfs::open_for_reading(std::string_view path) const {
  return at_path(
      path, [](int dir, const char* name) { return ::openat(dir, name, O_RDONLY | O_CLOEXEC); },
      [](const char* full_path) { return ::open(full_path, O_RDONLY | O_CLOEXEC); });
}

core::Result<std::string> RealSysfs::read_fd(int fd, std::string_view path,
                                             std::size_t max_bytes) const {
  constexpr std::size_t k_page = 4096;
  std::string out;
  char buf[k_page];
  while (out.size() < max_bytes) {
    const std::size_t asked = std::min(sizeof buf, max_bytes - out.size());
    const ssize_t n = ::read(fd, buf, asked);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return os_error("reading", full(path), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // See the class comment: a short read of a page-sized attribute is its end.
    if (max_bytes <= k_page && static_cast<std::size_t>(n) < asked) break;
  }
  return out;
}

core::Result<std::string> RealSysfs::read(std::string_view path, std::size_t max_bytes) const {
  const UniqueFd fd(open_for_reading(path));
  if (fd.get() < 0) {
    const int err = errno;
    return os_error("reading", full(path), err);
  }
  return read_fd(fd.get(), path, max_bytes);
}

core::Result<std::optional<std::string>> RealSysfs::read_if_present(std::string_view path,
                                                                    std::size_t max_bytes) const {
  const UniqueFd fd(open_for_reading(path));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return std::optional<std::string>();
    return os_error("reading", full(path), err);
  }
  auto content = read_fd(fd.get(), path, max_bytes);
  if (!content) return fail(content.error());
  return std::optional<std::string>(std::move(*content));
}

namespace {

// pread(2) of up to `size` bytes from `offset`, retried until the end.
core::Result<std::string> pread_all(int fd, std::size_t offset, std::size_t size,
                                    const std::function<std::string()>& shown_path) {
  std::string out(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return os_error("reading", shown_path(), err);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

class OpenRealAttribute final : public Sysfs::OpenAttribute {
public:
  OpenRealAttribute(int fd, std::string shown_path) : m_fd(fd), m_shown(std::move(shown_path)) {}
  core::Result<std::string> read_at(std::size_t offset, std::size_t size) override {
    return pread_all(m_fd.get(), offset, size, [this] { return m_shown; });
  }

private:
  UniqueFd m_fd;
  std::string m_shown;
};

}  // namespace

core::Result<std::string> RealSysfs::read_at(std::string_view path, std::size_t offset,
                                             std::size_t size) const {
  const UniqueFd fd(open_for_reading(path));
  if (fd.get() < 0) {
    const int err = errno;
    return os_error("reading", full(path), err);
  }
  return pread_all(fd.get(), offset, size, [&] { return full(path); });
}

core::Result<std::unique_ptr<Sysfs::OpenAttribute>> RealSysfs::open_attribute(
    std::string_view path) const {
  const int fd = open_for_reading(path);
  if (fd < 0) {
    const int err = errno;
    return os_error("reading", full(path), err);
  }
  return std::unique_ptr<OpenAttribute>(std::make_unique<OpenRealAttribute>(fd, full(path)));
}

core::Result<std::vector<std::string>> RealSysfs::list(std::string_view path) const {
  const std::string p = full(path);
  constexpr int k_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  const UniqueFd fd(at_path(
      path, [](int dir, const char* name) { return ::openat(dir, name, k_flags); },
      [](const char* full_path) { return ::open(full_path, k_flags); }));
  if (fd.get() < 0) return os_error("listing", p, errno);
  std::vector<std::string> names;
  names.reserve(32);  // a device folder's size: no regrowth
  alignas(dirent64) char buf[16384];
  for (;;) {
    const ssize_t n = ::getdents64(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("listing", p, errno);
    }
    if (n == 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buf + offset);
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
      offset += entry->d_reclen;
    }
  }
  return names;
}

ssize_t RealSysfs::link_target(std::string_view path, char* buf, std::size_t size) const {
  return at_path(
      path, [&](int dir, const char* name) { return ::readlinkat(dir, name, buf, size); },
      [&](const char* full_path) { return ::readlink(full_path, buf, size); });
}

core::Result<std::string> RealSysfs::read_link(std::string_view path) const {
  char buf[4096];
  const ssize_t n = link_target(path, buf, sizeof buf);
  if (n < 0) {
    const int err = errno;
    return os_error("reading link", full(path), err);
  }
  if (static_cast<std::size_t>(n) >= sizeof buf) {
    return fail("reading link " + full(path) + ": target too long", ExitCode::host_error);
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

core::Result<std::optional<std::string>> RealSysfs::read_link_if_present(
    std::string_view path) const {
  char buf[4096];
  const ssize_t n = link_target(path, buf, sizeof buf);
  if (n < 0 && errno == ENOENT) return std::optional<std::string>();
  if (n < 0) {
    const int err = errno;
    return os_error("reading link", full(path), err);
  }
  if (static_cast<std::size_t>(n) >= sizeof buf) {
    return fail("reading link " + full(path) + ": target too long", ExitCode::host_error);
  }
  return std::optional<std::string>(std::string(buf, static_cast<std::size_t>(n)));
}

bool RealSysfs::exists(std::string_view path) const {
  struct stat st {};
  return at_path(
      path, [&](int dir, const char* name) { return ::fstatat(dir, name, &st, 0) == 0; },
      [&](const char* full_path) { return ::stat(full_path, &st) == 0; });
}

bool RealSysfs::held_exclusively(std::string_view path) const {
  const std::string p = full(path);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) return false;
  // Read-only and non-blocking: nothing is written, removable media are not waited for.
  const int fd = ::open(p.c_str(), O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  return errno == EBUSY;
}

core::Status RealSysfs::write(std::string_view path, std::string_view bytes) {
  ++m_writes;  // every thread's kept folder is dropped
  const std::string p = full(path);
  // O_TRUNC as a shell's `>` does: sysfs ignores it, a plain file (a simulated tree) needs it.
  // O_NOFOLLOW: no kernel attribute is a link, so one here points out of the tree.
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0 && errno == ELOOP) {
    return fail("writing " + p + ": it is a symbolic link, which pcipass never writes through",
                ExitCode::host_error);
  }
  if (fd.get() < 0) return os_error("writing", p, errno);
  const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
  if (n < 0) return os_error("writing", p, errno);
  if (static_cast<std::size_t>(n) != bytes.size()) {
    return fail("writing " + p + ": short write", ExitCode::host_error);
  }
  return core::ok();
}

std::string resolve_link(std::string_view base_dir, std::string_view target) {
  std::vector<std::string_view> parts;
  auto push_all = [&](std::string_view text) -> bool {
    while (!text.empty()) {
      const std::size_t slash = text.find('/');
      const std::string_view part = text.substr(0, slash);
      text = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else {
        parts.push_back(part);
      }
    }
    return true;
  };
  if (target.starts_with('/')) return {};
  if (!push_all(base_dir) || !push_all(target)) return {};
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

}  // namespace pcipass::host
