// `pcipass restore`: after a reboot (or a crashed run), re-applies what the
// journal records: devices back on vfio-pci, sysfs modes, and the files
// pcipass wrote when they went missing or were changed. Run at boot by
// scripts/pcipass-restore.service.

#include "commands.hpp"
#include "host_prep.hpp"
#include "remote_host.hpp"

#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/restore_planner.hpp>
#include <pcipass/core/sriov.hpp>

#include <memory>
#include <optional>

namespace pcipass::cli {

namespace {

struct RestoreOptions {
  bool force = false;
  ChangeOptions change;
};

// restore -c URI of another host (after it rebooted): its journal holds
// only devices, bound again through its libvirt.
int run_remote_restore(Context& context, const RestoreOptions& options, const RemoteHost& remote) {
  host::Journal journal = load_host_journal(context, &remote);
  const core::Inventory inventory = journal.state().bind_entries().empty()
                                        ? core::Inventory{}
                                        : load_remote_inventory(context, remote);
  core::RestoreRequest request;
  request.force = options.force ? core::Force::yes : core::Force::no;
  core::RestorePlan plan =
      core::plan_restore(inventory, journal.state(), core::VfioModule::loaded, {}, request);
  make_through_libvirt(plan.plan, remote.uri);
  execute_plan(context, plan.plan, journal, options.change,
               {.command = "restore",
                .refused = plan.refused,
                .keep_going = host::KeepGoing::yes,
                .node_devices = remote.devices.get()});
  return 0;
}

int run_restore(Context& context, const RestoreOptions& options) {
  // Before the lock: a refused URI leaves no state folder behind.
  const std::optional<RemoteHost> remote = open_remote_host(
      context, change_access(options.change.dry_run));
  const auto lock = lock_state(context, options.change);
  if (remote) return run_remote_restore(context, options, *remote);
  host::Journal journal =
      host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  core::Inventory inventory = load_inventory_for(context, journal.state());

  // First the VF counts pcipass set: VFs exist only once their PF has its
  // count again, and only then can their binds be planned (the kernel may
  // give them other IOMMU groups than before the reboot).
  core::Plan vfs = core::plan_vf_count_restore(inventory, journal.state());
  std::vector<std::string> vf_problems = vfs.refused;
  nlohmann::json vf_document;
  std::optional<core::Error> vf_failure;  // at boot the rest still goes ahead
  const bool vfs_first = !vfs.actions.empty() && !options.change.dry_run;
  if (vfs_first) {
    vfs.refused.clear();
    try {
      execute_plan(context, vfs, journal, options.change,
                   {.command = "restore", .document = &vf_document});
    } catch (const core::Failure& e) {
      vf_failure = e.error();
    }
    inventory = load_inventory_for(context, journal.state());
  }
  const core::VfioModule vfio = vfio_module(context);
  const core::FileStates files =
      host::read_file_states(*context.os, journal.state()).value_or_throw();
  core::RestoreRequest request;
  request.force = options.force ? core::Force::yes : core::Force::no;
  request.sysfs_root = context.options.sysfs_root;
  core::RestorePlan plan = core::plan_restore(inventory, journal.state(), vfio, files, request);
  if (!vfs.actions.empty() && options.change.dry_run) {
    // A dry run makes no VFs, so their binds cannot be planned yet.
    plan.plan.actions.insert(plan.plan.actions.begin(), vfs.actions.begin(), vfs.actions.end());
    plan.plan.notes.push_back("the VFs of a PF whose count is set again are bound once they "
                              "exist: a dry run cannot show those binds");
  }
  plan.refused.insert(plan.refused.begin(), vf_problems.begin(), vf_problems.end());
  // At boot nobody watches: one device that fails must not keep the others
  // (or the files and modes) from being restored.
  nlohmann::json document;
  const bool nest = vfs_first && context.options.json;
  std::optional<core::Error> failure;
  try {
    execute_plan(context, plan.plan, journal, options.change,
                 {.command = "restore",
                  .refused = plan.refused,
                  .keep_going = host::KeepGoing::yes,
                  .document = nest ? &document : nullptr});
  } catch (const core::Failure& e) {
    failure = e.error();
  }
  if (nest) {
    document["vf_counts"] = vf_document;
    *context.out << core::dump_json(document);
  }
  // A failed VF count is a failed step (exit 4, as for a bind), named first.
  if (vf_failure && failure) {
    throw core::Failure(vf_failure->message + "\n" + failure->message, vf_failure->code);
  }
  if (vf_failure || failure) throw core::Failure(vf_failure ? *vf_failure : *failure);
  return 0;
}

}  // namespace

void register_restore(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<RestoreOptions>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Re-apply what the journal records and a reboot loses: SR-IOV VF counts, devices back "
      "on vfio-pci, sysfs modes, missing or changed files (run at boot by "
      "pcipass-restore.service)");
  cmd->footer(
      std::string(
          "Devices whose bind an earlier run left pending or failed are bound too; a device whose "
          "release was interrupted is left for pcipass release. A device that is gone is skipped "
          "with a note; one that carries other vendor:device ids, has no IOMMU group or is used by "
          "the host now is left alone, and restore exits with code 5 after restoring the "
          "rest. A step that fails (a bind, a file) does not stop the others: restore exits "
          "with code 4 at the end, one line per failed step; a failed module load or journal "
          "write stops it at once.\n\n") +
      app.get_footer());
  cmd->add_flag("--force", options->force,
                "Also re-bind devices the host uses now (a disk mounted at boot, ...)");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every change that would be made, and make none");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback([&context, &exit_code, options] { exit_code = run_restore(context, *options); });
}

}  // namespace pcipass::cli
