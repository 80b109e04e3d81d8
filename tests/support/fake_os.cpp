#include "support/fake_os.hpp"

#include <pcipass/host/atomic_file.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pcipass::test {

namespace {

core::Unexpected os_error(const std::string& what, int error) {
  return core::fail(what + ": " + std::strerror(error), core::ExitCode::host_error);
}

}  // namespace

core::Status FakeOs::load_module(std::string_view name) {
  if (m_crash != nullptr) m_crash->step("modprobe " + std::string(name));
  m_calls.push_back("modprobe " + std::string(name));
  if (m_module_error != 0)
    return os_error("loading kernel module " + std::string(name), m_module_error);
  if (m_kernel != nullptr) return m_kernel->load_module(name);
  return core::ok();
}

core::Result<std::optional<std::string>> FakeOs::read_file(
    const std::filesystem::path& path) const {
  if (!std::filesystem::exists(path)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::optional<std::string>(buffer.str());
}

core::Status FakeOs::write_file(const std::filesystem::path& path, std::string_view bytes,
                                mode_t mode) {
  if (m_crash != nullptr) m_crash->step("write " + path.string());
  m_calls.push_back("write " + path.string());
  if (auto it = m_failures.find(path.string()); it != m_failures.end()) {
    return os_error("writing " + path.string(), it->second);
  }
  return host::write_file_atomically(path, bytes, mode);
}

core::Status FakeOs::set_permissions(const std::filesystem::path& path, mode_t mode,
                                     const std::string& group) {
  if (m_crash != nullptr) m_crash->step("chmod " + path.string());
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  m_calls.push_back(std::string("chmod ") + octal + " " + (group.empty() ? "-" : group) + " " +
                    path.string());
  if (auto it = m_failures.find(path.string()); it != m_failures.end()) {
    return os_error("changing the mode of " + path.string(), it->second);
  }
  if (!group.empty()) {
    const struct group* entry = ::getgrnam(group.c_str());
    if (entry == nullptr)
      return os_error("changing the group of " + path.string() + " to " + group, ENOENT);
    if (const int error = injected("chown", path); error != 0)
      return os_error("changing the group of " + path.string() + " to " + group, error);
    if (::chown(path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0)
      return os_error("changing the group of " + path.string() + " to " + group, errno);
  }
  if (const int error = injected("chmod", path); error != 0)
    return os_error("changing the mode of " + path.string(), error);
  if (::chmod(path.c_str(), mode) != 0)
    return os_error("changing the mode of " + path.string(), errno);
  return core::ok();
}

int FakeOs::injected(const char* what, const std::filesystem::path& path) {
  return m_faults == nullptr ? 0 : m_faults->step(what, path.string());
}

core::Result<std::optional<host::FileMode>> FakeOs::file_mode(
    const std::filesystem::path& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<host::FileMode>();
    return os_error("reading the mode of " + path.string(), errno);
  }
  const struct group* entry = ::getgrgid(st.st_gid);
  return std::optional<host::FileMode>(host::FileMode{static_cast<unsigned>(st.st_mode & 07777),
                                                      entry == nullptr ? "" : entry->gr_name,
                                                      static_cast<unsigned>(st.st_uid)});
}

core::Status FakeOs::remove_file(const std::filesystem::path& path) {
  if (m_crash != nullptr) m_crash->step("remove " + path.string());
  m_calls.push_back("remove " + path.string());
  if (auto it = m_failures.find(path.string()); it != m_failures.end()) {
    return os_error("removing " + path.string(), it->second);
  }
  if (const int error = injected("unlink", path); error != 0)
    return os_error("removing " + path.string(), error);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return os_error("removing " + path.string(), errno);
  return core::ok();
}

core::Status FakeOs::make_directories(const std::filesystem::path& path) {
  // Only a folder that is missing is a change that can fail.
  if (!std::filesystem::exists(path)) {
    if (const int error = injected("mkdir", path); error != 0)
      return os_error("creating " + path.string(), error);
  }
  return host::make_folders(path, 0755);
}

}  // namespace pcipass::test
