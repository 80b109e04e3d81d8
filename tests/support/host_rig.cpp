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

core::Plan HostRig::plan_bind(const std::vector<const char*>& devices, core::Force force,
                             core::GroupExpansion expansion) {
  core::BindRequest request;
  for (const char* d : devices) request.devices.push_back(core::PciAddress::parse(d).value());
  request.force = force;
  request.expansion = expansion;
  return core::plan_bind(inventory(), request, journal().state(), vfio()).value_or_throw();
}

core::Status HostRig::release_all() {
  core::ReleaseRequest request;
  request.scope = core::ReleaseScope::all;
  auto plan = core::plan_release(inventory(), request, journal().state());
  if (!plan) return core::fail(plan.error());
  return run(*plan);
}

bool HostRig::crashing_after(int steps, const std::function<void()>& command) {
  CrashSwitch crash;
  kernel.set_crash_switch(&crash);
  os.set_crash_switch(&crash);
  crash.arm(steps);
  bool crashed = false;
  try {
    command();
  } catch (const SimulatedCrash&) {
    crashed = true;
  }
  kernel.set_crash_switch(nullptr);
  os.set_crash_switch(nullptr);
  return crashed;
}

bool HostRig::vfio_node(unsigned group) const {
  return std::filesystem::exists(kernel.dev_root() / "vfio" / std::to_string(group));
}

core::Status HostRig::run(const std::vector<core::Action>& actions) {
  host::Journal journal = this->journal();
  host::Executor executor(kernel, kernel.dev(), os, &journal, host::DryRun::no, roots());
  executor.set_keep_going(keep_going);
  executor.set_node_devices(node_devices);
  executor.set_concurrent_binds(concurrent_binds);
  attempted.clear();
  current.reset();
  executor.set_observer([this](const core::Action& action, const std::vector<host::Operation>&) {
    attempted.push_back(action);
    current = action;
  });
  return executor.run(actions);
}

}  // namespace pcipass::test
