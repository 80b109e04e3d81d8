#pragma once

// Fails one chosen side effect of a run with a chosen errno, for the
// fault-injection tests: a disk that is full (ENOSPC), read-only (EROFS),
// failing (EIO) or refusing (EACCES) at exactly one step. It counts every
// operation that changes something: sysfs writes (SimulatedKernel), chmod,
// chown, unlink and mkdir (FakeOs), and each disk step of an atomic file
// (create, chown, write, fsync, rename; through AtomicFile's fault hook,
// which it holds while it lives). Module loads change no file and are not
// counted.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::test {

// One counted operation: what it was and the path it touched.
struct FaultStep {
  std::string what;  // "sysfs-write", "chmod", "chown", "unlink", "mkdir", "atomic-rename", ...
  std::string path;  // full path, as the error message shows it
};

class FaultInjector {
 public:
  // Installs itself as AtomicFile's fault hook; only one may live at a time.
  FaultInjector();
  ~FaultInjector();
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // Fails operation number `index` (0-based, counted from now) with `error`,
  // once; every other operation goes through.
  void arm(std::size_t index, int error);
  // Lets every operation through from now on, and forgets what was counted.
  void disarm();

  // Called before each operation: counts it and returns the errno to fail it
  // with, or 0 to perform it.
  int step(const std::string& what, const std::string& path);

  // Every operation counted since the last arm() or disarm().
  [[nodiscard]] const std::vector<FaultStep>& steps() const { return m_steps; }
  // The operation that was made to fail, once it was.
  [[nodiscard]] const std::optional<FaultStep>& failed() const { return m_failed; }

 private:
  std::optional<std::size_t> m_index;
  int m_error = 0;
  std::vector<FaultStep> m_steps;
  std::optional<FaultStep> m_failed;
  std::mutex m_mutex;
};

}  // namespace pcipass::test
