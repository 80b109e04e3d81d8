#include <pcipass/host/sysfs.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcipass::host {

using core::ExitCode;
using core::fail;

namespace {

core::Unexpected os_error(const std::string& action, const std::string& path, int err) {
  return fail(action + " " + path + ": " + std::strerror(err), ExitCode::host_error);
}

// Closes a file descriptor on scope exit.
class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return m_fd; }

private:
  int m_fd;
};

}  // namespace

RealSysfs::RealSysfs(std::filesystem::path root) : m_root(std::move(root)) {}

std::string RealSysfs::full(std::string_view path) const {
  std::string out = m_root.string();
  if (!path.empty()) {
    if (out.empty() || out.back() != '/') out += '/';
    out += path;
  }
  return out;
}

std::string RealSysfs::display_path(std::string_view path) const { return full(path); }

core::Result<std::string> RealSysfs::read(std::string_view path, std::size_t max_bytes) const {
  const std::string p = full(path);
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return os_error("reading", p, errno);
  std::string out;
  char buf[4096];
  while (out.size() < max_bytes) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("reading", p, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

core::Result<std::vector<std::string>> RealSysfs::list(std::string_view path) const {
  const std::string p = full(path);
  DIR* dir = ::opendir(p.c_str());
  if (dir == nullptr) return os_error("listing", p, errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return os_error("listing", p, err);
  return names;
}

core::Result<std::string> RealSysfs::read_link(std::string_view path) const {
  const std::string p = full(path);
  char buf[4096];
  const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  if (n < 0) return os_error("reading link", p, errno);
  if (static_cast<std::size_t>(n) >= sizeof buf) {
    return fail("reading link " + p + ": target too long", ExitCode::host_error);
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

bool RealSysfs::exists(std::string_view path) const {
  struct stat st {};
  return ::stat(full(path).c_str(), &st) == 0;
}

core::Status RealSysfs::write(std::string_view path, std::string_view bytes) {
  const std::string p = full(path);
  // O_TRUNC as a shell's `>` does: sysfs ignores it, a plain file (a simulated tree) needs it.
  Fd fd(::open(p.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
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
