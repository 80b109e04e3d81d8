#pragma once

// An Os for tests: files go to the real (temporary) file system through the
// same atomic writes as RealOs (and groups through chown, so tests give files
// their own group), modules load into a SimulatedKernel, and any step can be
// made to fail with an errno or to crash (CrashSwitch).

#include <pcipass/host/os.hpp>

#include "support/fault_injector.hpp"
#include "support/simulated_kernel.hpp"

#include <map>
#include <string>
#include <vector>

namespace pcipass::test {

class FakeOs final : public host::Os {
 public:
  // Modules load into `kernel` (nullptr: load_module only records the call).
  explicit FakeOs(SimulatedKernel* kernel = nullptr) : m_kernel(kernel) {}

  core::Status load_module(std::string_view name) override;
  core::Result<std::optional<std::string>> read_file(
      const std::filesystem::path& path) const override;
  core::Status write_file(const std::filesystem::path& path, std::string_view bytes,
                          mode_t mode) override;
  core::Status set_permissions(const std::filesystem::path& path, mode_t mode,
                               const std::string& group) override;
  core::Status make_directories(const std::filesystem::path& path) override;
  core::Result<std::optional<host::FileMode>> file_mode(
      const std::filesystem::path& path) const override;
  core::Status remove_file(const std::filesystem::path& path) override;

  // Writes of `path` (write_file) fail with `error`.
  void fail_write(const std::filesystem::path& path, int error) {
    m_failures[path.string()] = error;
  }
  // load_module fails with `error`.
  void fail_module(int error) { m_module_error = error; }
  void clear_failures() {
    m_failures.clear();
    m_module_error = 0;
  }
  // Every side effect asks `crash` first.
  void set_crash_switch(CrashSwitch* crash) { m_crash = crash; }
  // Every chmod, chown, unlink and mkdir asks `faults` whether to fail
  // (nullptr: never); file writes ask it through AtomicFile's hook.
  void set_fault_injector(FaultInjector* faults) { m_faults = faults; }
  // Calls made, e.g. "modprobe vfio_pci", "chmod 0660 kvm /path", "remove /path".
  [[nodiscard]] const std::vector<std::string>& calls() const { return m_calls; }

 private:
  // The errno `m_faults` injects into operation `what` on `path`, else 0.
  int injected(const char* what, const std::filesystem::path& path);

  SimulatedKernel* m_kernel;
  CrashSwitch* m_crash = nullptr;
  FaultInjector* m_faults = nullptr;
  std::map<std::string, int> m_failures;
  int m_module_error = 0;
  std::vector<std::string> m_calls;
};

}  // namespace pcipass::test
