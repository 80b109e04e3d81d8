#pragma once

// A simulated host wired the way the commands wire the real one: the
// simulated kernel, an Os over it, the journal in var/lib/pcipass and etc/
// beside sys/ (a reboot keeps both). Host-layer tests of bind, permissions,
// release and restore plan on inventory(), then perform with run().

#include "support/fake_os.hpp"
#include "support/fault_injector.hpp"
#include "support/simulated_kernel.hpp"

#include <pcipass/core/actions.hpp>
#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/journal.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::test {

struct HostRig {
  // `faults`, when given, sees (and may fail) every step of the kernel and the Os.
  explicit HostRig(const std::string& host, FaultInjector* faults = nullptr);

  [[nodiscard]] std::filesystem::path etc() const { return kernel.root() / "etc"; }
  [[nodiscard]] std::filesystem::path state() const { return kernel.root() / "var/lib/pcipass"; }
  // The folders a run on this host may change, as the commands give them.
  [[nodiscard]] std::vector<std::string> roots() const {
    return {kernel.sys_root().string(), kernel.dev_root().string(), etc().string()};
  }
  // The whole inventory with host usage, read now.
  core::Inventory inventory();
  [[nodiscard]] core::VfioModule vfio() const;
  host::Journal journal();

  // As the commands run a plan (cli/host_prep.cpp): the executor with the journal. `attempted` lists
  // the actions the run began, `current` the last of them.
  core::Status run(const std::vector<core::Action>& actions);
  core::Status run(const core::Plan& plan) { return run(plan.actions); }

  // bind's plan for `devices` on inventory() and the journal, as the command makes it.
  core::Plan plan_bind(const std::vector<const char*>& devices, core::Force force = core::Force::no,
                       core::GroupExpansion expansion = core::GroupExpansion::whole_groups);
  core::Status bind(const std::vector<const char*>& devices, core::Force force = core::Force::no,
                    core::GroupExpansion expansion = core::GroupExpansion::whole_groups) {
    return run(plan_bind(devices, force, expansion));
  }
  // release --all's plan, performed.
  core::Status release_all();
  // Runs `command` (which performs a plan and checks its result) with the
  // kernel and the Os crashing after `steps` side effects, as kill -9
  // would (SimulatedCrash); true when it crashed, false when it finished.
  bool crashing_after(int steps, const std::function<void()>& command);
  // Whether dev/vfio/GROUP exists.
  [[nodiscard]] bool vfio_node(unsigned group) const;

  SimulatedKernel kernel;
  FakeOs os;
  host::KeepGoing keep_going = host::KeepGoing::no;  // run()'s, as restore sets it
  host::NodeDevices* node_devices = nullptr;          // run()'s, as bind -c URI sets it
  unsigned concurrent_binds = 1;  // run()'s; the commands use host::k_concurrent_binds
  std::vector<core::Action> attempted;
  std::optional<core::Action> current;
};

}  // namespace pcipass::test
