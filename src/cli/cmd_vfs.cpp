// `pcipass vfs PF COUNT`: create or remove the SR-IOV VFs of a physical
// function (sysfs sriov_numvfs), journaled like every change: restore makes
// them again after a reboot, release --all gives the PF its earlier count.

#include "commands.hpp"
#include "host_prep.hpp"

#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <memory>

namespace pcipass::cli {

namespace {

struct VfsOptions {
  std::string device;
  std::string count;
  bool force = false;
  ChangeOptions change;
};

int run_vfs(Context& context, const VfsOptions& options) {
  // Another host is refused before the lock: a refusal leaves no state folder behind.
  refuse_foreign_connection(context, context.options.connect);
  const auto count = core::parse_decimal(options.count);
  if (!count || *count < 0 || *count > 0xffff) {
    throw core::Failure("invalid VF count " + core::quote_for_message(options.count) +
                            ": give a number from 0 to the PF's sriov_totalvfs",
                        core::ExitCode::usage);
  }
  core::VfCountRequest request;
  request.pf = resolve_devices(context, {options.device}).front();
  request.count = static_cast<unsigned>(*count);
  request.force = options.force ? core::Force::yes : core::Force::no;

  const auto lock = lock_state(context, options.change);
  host::Journal journal =
      host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  const core::Inventory inventory = load_sysfs_inventory(context);
  const core::Plan plan =
      core::plan_vf_count(inventory, request, journal.state()).value_or_throw();
  execute_plan(context, plan, journal, options.change, {.command = "vfs"});
  return 0;
}

}  // namespace

void register_vfs(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<VfsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "vfs",
      "Create or remove the SR-IOV VFs of a physical function (journaled: restore makes them "
      "again after a reboot, release --all gives back the earlier count)");
  cmd->add_option("PF", options->device,
                  "The physical function: an address (0000:05:00.0), pci_0000_05_00_0, "
                  "serial:SERIAL or an interface name")
      ->required();
  cmd->add_option("COUNT", options->count, "How many VFs it should have (0 removes them all)")
      ->required();
  cmd->add_flag("--force", options->force, "Also remove VFs the host uses");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every write that would be made, and make none");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback([&context, &exit_code, options] { exit_code = run_vfs(context, *options); });
}

}  // namespace pcipass::cli
