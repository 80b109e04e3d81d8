#include "commands.hpp"
#include "host_prep.hpp"
#include "remote_host.hpp"

#include <pcipass/core/sriov.hpp>

#include <memory>

namespace pcipass::cli {

namespace {

struct ReleaseOptions {
  std::vector<std::string> devices;
  bool all = false;
  bool forget = false;
  ChangeOptions change;
};

int run_release(Context& context, const ReleaseOptions& options) {
  if (options.all == !options.devices.empty()) {
    throw core::Failure("release needs either device addresses or --all", core::ExitCode::usage);
  }
  if (options.forget && options.all) {
    throw core::Failure("release --forget needs the device addresses to forget, not --all",
                        core::ExitCode::usage);
  }
  core::ReleaseRequest request;
  request.devices = resolve_devices(context, options.devices);
  request.scope = options.all ? core::ReleaseScope::all : core::ReleaseScope::named;

  // Before the lock: a refused URI leaves no state folder behind.
  const std::optional<RemoteHost> remote = open_remote_host(
      context, change_access(options.change.dry_run));
  const auto lock = lock_state(context, options.change);
  host::Journal journal =
      load_host_journal(context, remote ? &*remote : nullptr);
  if (options.forget) {
    const core::Plan plan = core::plan_forget(request, journal.state()).value_or_throw();
    execute_plan(context, plan, journal, options.change, {.command = "forget"});
    return 0;
  }
  if (remote) {
    // Another host: only devices are journaled there, re-attached by libvirt.
    const core::Inventory inventory = journal.state().bind_entries().empty()
                                          ? core::Inventory{}
                                          : load_remote_inventory(context, *remote);
    core::Plan plan = core::plan_release(inventory, request, journal.state()).value_or_throw();
    make_through_libvirt(plan, remote->uri);
    execute_plan(context, plan, journal, options.change,
                 {.command = "release", .refused = plan.refused,
                  .node_devices = remote->devices.get()});
    return 0;
  }
  const core::Inventory inventory = load_inventory_for(context, journal.state());
  core::Plan plan = core::plan_release(inventory, request, journal.state()).value_or_throw();
  if (options.all) {
    // Devices go first: while one is still on vfio-pci, the group keeps its
    // access to it; and a VF must be back on its driver before its PF's
    // count changes (which removes it).
    std::vector<core::PciAddress> releasing;
    for (const core::Action& action : plan.actions) {
      if (const auto* release = std::get_if<core::ReleaseDevice>(&action))
        releasing.push_back(release->address);
    }
    core::Plan vfs = core::plan_vf_count_undo(inventory, journal.state(), releasing);
    plan.actions.insert(plan.actions.end(), vfs.actions.begin(), vfs.actions.end());
    plan.refused.insert(plan.refused.end(), vfs.refused.begin(), vfs.refused.end());
    const core::FileStates files =
        host::read_file_states(*context.os, journal.state()).value_or_throw();
    core::Plan undo = core::plan_release_files(journal.state(), files);
    plan.actions.insert(plan.actions.end(), undo.actions.begin(), undo.actions.end());
    plan.notes.insert(plan.notes.end(), undo.notes.begin(), undo.notes.end());
  }
  execute_plan(context, plan, journal, options.change,
               {.command = "release", .refused = plan.refused});
  return 0;
}

}  // namespace

void register_release(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<ReleaseOptions>();
  CLI::App* cmd = app.add_subcommand(
      "release",
      "Give devices pcipass bound back to the drivers they had (recorded in the journal); "
      "forget those that have left the host (with -c URI of another host: through its libvirt)");
  cmd->add_option("DEV", options->devices, "Devices pcipass bound: addresses, pci_0000_2d_00_0 or serial:SERIAL (names like nvme1 vanish on vfio-pci)");
  cmd->add_flag("--all", options->all,
                "Undo everything pcipass did: release every device the journal holds, give "
                "SR-IOV PFs their earlier VF count, put back the sysfs modes pcipass changed and "
                "remove the files it wrote (not the boot service unit)");
  cmd->add_flag("--forget", options->forget,
                "Drop the named devices from the journal without touching them (for an entry "
                "release refuses, e.g. a different card now at the address, once checked by hand)");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every write that would be made, and make none");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback([&context, &exit_code, options] { exit_code = run_release(context, *options); });
}

}  // namespace pcipass::cli
