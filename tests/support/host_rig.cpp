#include "support/host_rig.hpp"

#include <pcipass/host/executor.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

namespace pcipass::test {

HostRig::HostRig(const std::string& host, FaultInjector* faults) : kernel(host), os(&kernel) {
  if (faults != nullptr) {
    kernel.set_fault_injector(faults);
    os.set_fault_injector(faults);
  }
}

core::Inventory HostRig::inventory() {
  auto inventory = host::read_sysfs_inventory(kernel).value_or_throw();
  host::RealSysfs proc(kernel.root() / "proc");
  host::mark_host_usage(inventory, host::LocalHost{kernel, proc});
  return inventory;
}

core::VfioModule HostRig::vfio() const {
  return kernel.exists("bus/pci/drivers/vfio-pci") ? core::VfioModule::loaded
                                                   : core::VfioModule::missing;
}

host::Journal HostRig::journal() {
  // The journal of the host the run acts on, as the commands load it.
  return host::Journal::load(os, state(), node_devices ? node_devices->uri() : std::string())
      .value_or_throw();
}

core::Status HostRig::run(const std::vector<core::Action>& actions) {
  host::Journal journal = this->journal();
  host::Executor executor(kernel, kernel.dev(), os, &journal, host::DryRun::no, roots());
  executor.set_keep_going(keep_going);
  executor.set_node_devices(node_devices);
  attempted.clear();
  current.reset();
  executor.set_observer([this](const core::Action& action, const std::vector<host::Operation>&) {
    attempted.push_back(action);
    current = action;
  });
  return executor.run(actions);
}

}  // namespace pcipass::test
