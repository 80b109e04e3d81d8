#include "support/faulty_sysfs.hpp"

#include <cstring>

namespace pcipass::test {

core::Result<std::string> FaultySysfs::read(std::string_view path, std::size_t max_bytes) const {
  if (auto it = m_read_failures.find(path); it != m_read_failures.end()) {
    return core::fail("reading " + display_path(path) + ": " + std::strerror(it->second),
                      core::ExitCode::host_error);
  }
  return m_real.read(path, max_bytes);
}

core::Status FaultySysfs::write(std::string_view path, std::string_view bytes) {
  if (auto it = m_write_failures.find(path); it != m_write_failures.end()) {
    return core::fail("writing " + display_path(path) + ": " + std::strerror(it->second),
                      core::ExitCode::host_error);
  }
  return m_real.write(path, bytes);
}

}  // namespace pcipass::test
