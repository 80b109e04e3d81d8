#pragma once

// What bind, release and status share: the sysfs inventory they act on, the
// state folder's lock and journal, and printing actions as they run.

#include "context.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/journal.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace pcipass::cli {

// Options of the commands that change the host.
struct ChangeOptions {
  bool dry_run = false;
  bool no_wait = false;
};

// The inventory of the sysfs tree the command will write to, whatever
// --source says: the devices changed must be the devices read. Throws
// core::Failure; a host without IOMMU groups fails with the fix.
core::Inventory load_sysfs_inventory(Context& context,
                                     const DeviceScope& scope = DeviceScope::all());

// Whether vfio-pci is loaded on the host the command writes to (its driver
// folder exists); the planners add the modprobe when it is not.
core::VfioModule vfio_module(const Context& context);

// The addresses the DEV arguments name (core/device_names.hpp): addresses
// as they are; when any is a name (serial:S, /dev/nvme1n1, enp5s0, ...) the
// inventory is read once to find them. An unknown or ambiguous name, or a
// malformed address, is a usage error naming it.
std::vector<core::PciAddress> resolve_devices(Context& context, const std::vector<std::string>& args);

// The lock of the state folder, unless this is a dry run (which changes
// nothing and so may run beside another run). Prints a line when it waits.
std::optional<host::StateLock> lock_state(Context& context, const ChangeOptions& options);

// The journaled devices' inventory: the sysfs one when the journal binds
// devices, else an empty one, so that undoing or restoring only files works
// on a host whose IOMMU is gone.
core::Inventory load_inventory_for(Context& context, const core::JournalState& journal);

// How one command runs its plan.
struct PlanRun {
  const char* command = "";  // named in messages and in --json ("refusing to bind:")
  // Things a safety check left alone, one line each: the run does the rest,
  // then fails with ExitCode::refused.
  std::vector<std::string> refused = {};
  host::KeepGoing keep_going = host::KeepGoing::no;
  // With --json, the document goes here instead of to the output (for a
  // command that nests it in its own), also when the run fails.
  nlohmann::json* document = nullptr;
  // Folders beside the sysfs, /dev and /etc roots that this run's file
  // actions may name (install-service --unit-dir).
  std::vector<std::string> extra_roots = {};
  // The host the device actions are made on through libvirt (-c URI of
  // another host), or null: this machine's sysfs.
  host::NodeDevices* node_devices = nullptr;
};

// Runs `plan` (or only shows it) within the run's sysfs, /dev and /etc
// roots, printing each action with its side effects, or with --json one
// document at the end. Throws core::Failure when an action fails, after
// printing what was done, and with ExitCode::refused when `run.refused` is
// not empty, after the rest.
void execute_plan(Context& context, const core::Plan& plan, host::Journal& journal,
                  const ChangeOptions& options, const PlanRun& run);

}  // namespace pcipass::cli
