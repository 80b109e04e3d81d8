#include "support/fault_injector.hpp"

#include <pcipass/host/atomic_file.hpp>

namespace pcipass::test {

namespace {

const char* step_name(host::AtomicFileStep step) {
  switch (step) {
    case host::AtomicFileStep::create: return "atomic-create";
    case host::AtomicFileStep::chown: return "atomic-chown";
    case host::AtomicFileStep::write: return "atomic-write";
    case host::AtomicFileStep::fsync: return "atomic-fsync";
    case host::AtomicFileStep::rename: return "atomic-rename";
  }
  return "atomic";
}

}  // namespace

FaultInjector::FaultInjector() {
  host::set_atomic_file_fault_hook(
      [this](host::AtomicFileStep step, const std::filesystem::path& path) {
        return this->step(step_name(step), path.string());
      });
}

FaultInjector::~FaultInjector() {
  host::set_atomic_file_fault_hook({});
}

void FaultInjector::arm(std::size_t index, int error) {
  m_index = index;
  m_error = error;
  m_steps.clear();
  m_failed.reset();
}

void FaultInjector::disarm() {
  m_index.reset();
  m_steps.clear();
}

int FaultInjector::step(const std::string& what, const std::string& path) {
  const std::lock_guard lock(m_mutex);  // binds of several groups run in threads
  m_steps.push_back(FaultStep{what, path});
  if (!m_index || *m_index != m_steps.size() - 1) return 0;
  m_index.reset();
  m_failed = m_steps.back();
  return m_error;
}

}  // namespace pcipass::test
