#include "commands.hpp"
#include "host_prep.hpp"
#include "remote_host.hpp"

#include <memory>

namespace pcipass::cli {

namespace {

struct BindOptions {
  std::vector<std::string> devices;
  bool force = false;
  bool exact = false;
  ChangeOptions change;
};

int run_bind(Context& context, const BindOptions& options) {
  core::BindRequest request;
  request.devices = resolve_devices(context, options.devices);
  request.force = options.force ? core::Force::yes : core::Force::no;
  request.expansion =
      options.exact ? core::GroupExpansion::named_only : core::GroupExpansion::whole_groups;

  // Before the lock: a refused URI leaves no state folder behind.
  const std::optional<RemoteHost> remote = open_remote_host(
      context, change_access(options.change.dry_run));
  const auto lock = lock_state(context, options.change);
  if (remote) {
    // Another host: libvirt detaches there, and loads vfio-pci itself.
    host::Journal journal = load_host_journal(context, &*remote);
    const core::Inventory inventory = load_remote_inventory(context, *remote);
    core::Plan plan =
        core::plan_bind(inventory, request, journal.state(), core::VfioModule::loaded)
            .value_or_throw();
    make_through_libvirt(plan, remote->uri);
    execute_plan(context, plan, journal, options.change,
                 {.command = "bind", .node_devices = remote->devices.get()});
    return 0;
  }
  host::Journal journal =
      host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  const core::Inventory inventory =
      load_sysfs_inventory(context, DeviceScope::groups_of(request.devices));
  const core::VfioModule vfio = vfio_module(context);
  const core::Plan plan =
      core::plan_bind(inventory, request, journal.state(), vfio).value_or_throw();
  execute_plan(context, plan, journal, options.change, {.command = "bind"});
  return 0;
}

}  // namespace

void register_bind(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<BindOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bind",
      "Move devices (and the rest of their IOMMU groups) from their host drivers to vfio-pci "
      "(with -c URI of another host: through that host's libvirt)");
  cmd->add_option("DEV", options->devices, "Devices: addresses (0000:2d:00.0 or 2d:00.0), pci_0000_2d_00_0, serial:SERIAL, /dev/nvme1n1, nvme1 or an interface name")->required();
  cmd->add_flag("--force", options->force,
                "Also take devices the host uses (its root disk, its network, ...)");
  cmd->add_flag("--exact", options->exact,
                "Bind only the named functions, not the other endpoints of their IOMMU groups");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every write that would be made, and make none");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback([&context, &exit_code, options] { exit_code = run_bind(context, *options); });
}

}  // namespace pcipass::cli
