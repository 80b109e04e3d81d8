#pragma once

// A RealSysfs over a test tree that fails chosen operations with a chosen
// errno, for fault-injection tests (tests run as root, so file modes cannot
// make reads fail).

#include <pcipass/host/sysfs.hpp>

#include <map>
#include <string>

namespace pcipass::test {

class FaultySysfs final : public host::Sysfs {
public:
  explicit FaultySysfs(std::filesystem::path root) : m_real(std::move(root)) {}

  // Reads of `path` fail with `error` (an errno value).
  void fail_read(const std::string& path, int error) { m_read_failures[path] = error; }
  // Writes to `path` fail with `error`.
  void fail_write(const std::string& path, int error) { m_write_failures[path] = error; }

  core::Result<std::string> read(std::string_view path, std::size_t max_bytes) const override;
  core::Result<std::vector<std::string>> list(std::string_view path) const override {
    return m_real.list(path);
  }
  core::Result<std::string> read_link(std::string_view path) const override {
    return m_real.read_link(path);
  }
  bool exists(std::string_view path) const override { return m_real.exists(path); }
  core::Status write(std::string_view path, std::string_view bytes) override;
  std::string display_path(std::string_view path) const override { return m_real.display_path(path); }

private:
  host::RealSysfs m_real;
  std::map<std::string, int, std::less<>> m_read_failures;
  std::map<std::string, int, std::less<>> m_write_failures;
};

}  // namespace pcipass::test
