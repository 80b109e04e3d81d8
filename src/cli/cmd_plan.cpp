#include "assignment_input.hpp"
#include "commands.hpp"
#include "guest_checks.hpp"
#include "table.hpp"

#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/kdevops_files.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/host/atomic_file.hpp>

#include <filesystem>
#include <memory>
#include <ostream>

namespace pcipass::cli {

namespace {

struct PlanOptions {
  AssignmentOptions assignment;
  std::string extra_vars;    // write the pcie_passthrough_devices: list here
  std::string node_entries;  // write guestfs_nodes: with pcipassthrough: entries here
};

void print_plan(Context& context, const PlannedAssignment& planned) {
  std::ostream& out = *context.out;
  for (const std::string& note : planned.assignment.notes) out << "note: " << note << "\n";
  if (planned.assignment.guests.empty()) {
    out << "no device to assign\n";
    return;
  }
  Table table({"GUEST", "DEVICE", "IDS", "GROUP", "NAME"});
  for (const core::GuestAssignment& guest : planned.assignment.guests) {
    for (const core::AssignedDevice& d : guest.devices) {
      std::string name = d.name.empty() ? "-" : core::sanitize_untrusted(d.name);
      if (d.added_for_group) name += " (added: same IOMMU group)";
      if (d.host_in_use) name += " (used by the host: --force)";
      table.add_row({guest.guest, d.address.to_string(), d.ids.to_string(),
                     std::to_string(d.iommu_group), name});
    }
  }
  table.print(out);
}

int run_plan(Context& context, const PlanOptions& options) {
  const AssignmentInput input = read_assignment_input(context, options.assignment);
  const core::Inventory inventory =
      input.enabled ? load_inventory(context, input.scope()).inventory : core::Inventory{};
  const PlannedAssignment planned = plan_from_input(input, inventory);
  if (!planned.enabled) {
    if (context.options.json) {
      *context.out << core::dump_json(assignment_to_json(planned));
    } else {
      *context.out << "PCI-E passthrough is not enabled in " << options.assignment.config
                   << " (CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is not set): nothing to plan\n";
    }
    return 0;
  }
  // With -c, a device another domain there holds is refused (--force warns).
  if (!context.options.connect.empty()) {
    check_holders(context, context.open_libvirt(context.options.connect).value_or_throw(),
                  device_guests(planned.assignment), options.assignment.force,
                  "refusing to assign the devices");
  }
  // The files come before the printed plan: a failed write ends the run with
  // its error instead of after a plan that looks saved.
  if (!options.extra_vars.empty()) {
    // kdevops' extra_vars.yaml holds its other variables too: only
    // pcie_passthrough_devices is replaced, everything else stays.
    std::string text = core::kdevops_extra_vars(planned.assignment);
    std::error_code ec;
    if (std::filesystem::is_regular_file(options.extra_vars, ec)) {
      const auto existing = context.os->read_file(options.extra_vars).value_or_throw();
      if (existing) {
        text = core::merge_kdevops_extra_vars(*existing, planned.assignment, options.extra_vars)
                   .value_or_throw();
      }
    }
    host::write_file_atomically(options.extra_vars, text, 0644, host::Target::stream_or_follow)
        .value_or_throw();
  }
  if (!options.node_entries.empty()) {
    host::write_file_atomically(options.node_entries,
                                core::kdevops_node_entries(planned.assignment), 0644,
                                host::Target::stream_or_follow)
        .value_or_throw();
  }
  if (context.options.json) {
    *context.out << core::dump_json(assignment_to_json(planned));
  } else {
    print_plan(context, planned);
  }
  return 0;
}

}  // namespace

void register_plan(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "Decide which device goes to which guest, check the IOMMU groups, and print the plan "
      "(--json) or write kdevops' files");
  add_assignment_options(cmd, options->assignment);
  cmd->add_option("--write-extra-vars", options->extra_vars,
                  "Write the plan as kdevops' pcie_passthrough_devices: extra-vars list to FILE, "
                  "keeping every other variable of an existing FILE")
      ->type_name("FILE");
  cmd->add_option("--write-nodes", options->node_entries,
                  "Write each planned guest's pcipassthrough: entries (guestfs_nodes:) to FILE")
      ->type_name("FILE");
  cmd->callback([&context, &exit_code, options] { exit_code = run_plan(context, *options); });
}

}  // namespace pcipass::cli
