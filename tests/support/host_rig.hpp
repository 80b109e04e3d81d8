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

  SimulatedKernel kernel;
  FakeOs os;
  host::KeepGoing keep_going = host::KeepGoing::no;  // run()'s, as restore sets it
  host::NodeDevices* node_devices = nullptr;          // run()'s, as bind -c URI sets it
  std::vector<core::Action> attempted;
  std::optional<core::Action> current;
};

}  // namespace pcipass::test
