#include "host_prep.hpp"
#include "commands.hpp"

#include <pcipass/core/device_names.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <optional>
#include <ostream>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

core::Inventory load_sysfs_inventory(Context& context, const DeviceScope& scope) {
  refuse_foreign_connection(context, context.options.connect);
  const std::string source = context.options.source;
  context.options.source = "sysfs";
  LoadedInventory loaded = load_inventory(context, scope);
  context.options.source = source;
  // Named devices without a group (or absent) are the planner's to report
  // when the host has groups elsewhere.
  if (!loaded.inventory.has_iommu_groups() &&
      (scope.everything || !host::has_iommu_groups(*context.sysfs)))
    throw Failure(k_no_iommu_message, ExitCode::host_error);
  return std::move(loaded.inventory);
}

core::VfioModule vfio_module(const Context& context) {
  return context.sysfs->exists("bus/pci/drivers/vfio-pci") ? core::VfioModule::loaded
                                                           : core::VfioModule::missing;
}

std::vector<core::PciAddress> resolve_devices(Context& context, const std::vector<std::string>& args) {
  std::vector<core::PciAddress> devices;
  std::optional<LoadedInventory> loaded;
  for (const std::string& arg : args) {
    if (!core::is_device_name(arg)) {
      devices.push_back(core::PciAddress::parse(arg).value_or_throw());
      continue;
    }
    if (!loaded) loaded = load_inventory(context);  // once, and only for names
    devices.push_back(core::resolve_device_name(arg, loaded->inventory).value_or_throw());
  }
  return devices;
}

std::optional<host::StateLock> lock_state(Context& context, const ChangeOptions& options) {
  if (options.dry_run) return std::nullopt;
  const std::string dir = context.options.state_dir;
  auto lock =
      host::StateLock::acquire(dir, options.no_wait ? host::Wait::no : host::Wait::yes, [&] {
        *context.err << "pcipass: waiting for another pcipass run to finish (lock " << dir
                     << "/lock)\n";
      });
  return std::move(lock).value_or_throw();
}

core::Inventory load_inventory_for(Context& context, const core::JournalState& journal) {
  refuse_foreign_connection(context, context.options.connect);
  if (journal.bind_entries().empty() && journal.vf_count_entries().empty()) return core::Inventory{};
  return load_sysfs_inventory(context);
}

void execute_plan(Context& context, const core::Plan& plan, host::Journal& journal,
                  const ChangeOptions& options, const PlanRun& run) {
  const char* const command = run.command;
  const std::vector<std::string>& refused = run.refused;
  const bool json = context.options.json;
  std::ostream& out = *context.out;
  nlohmann::json actions = nlohmann::json::array();
  if (!json) {
    for (const std::string& note : plan.notes) out << "note: " << note << "\n";
  }
  const GlobalOptions& o = context.options;
  std::vector<std::string> roots{o.sysfs_root, o.dev_root, o.etc_root};
  roots.insert(roots.end(), run.extra_roots.begin(), run.extra_roots.end());
  host::Executor executor(*context.sysfs, *context.dev, *context.os,
                          options.dry_run ? nullptr : &journal,
                          options.dry_run ? host::DryRun::yes : host::DryRun::no, roots);
  executor.set_keep_going(run.keep_going);
  executor.set_node_devices(run.node_devices);
  executor.set_concurrent_binds(host::k_concurrent_binds);
  executor.set_observer([&](const core::Action& action, const std::vector<host::Operation>& ops) {
    if (json) {
      nlohmann::json entry{{"description", core::describe(action)},
                           {"action", core::action_to_json(action)}};
      entry["operations"] = nlohmann::json::array();
      for (const host::Operation& op : ops) entry["operations"].push_back(op.to_json());
      actions.push_back(std::move(entry));
      return;
    }
    out << core::describe(action) << "\n";
    for (const host::Operation& op : ops) out << "  " << op.line() << "\n";
    out.flush();
  });
  core::Status result = executor.run(plan.actions);
  if (!refused.empty()) {
    // After failures too: a person fixing those must learn of these as well.
    std::string message = result ? std::string() : result.error().message + "\n";
    message += std::string("refusing to ") + command + ":";
    for (const std::string& line : refused) message += "\n  " + line;
    result = core::fail(message, result ? ExitCode::refused : result.error().code);
  }
  if (json) {
    nlohmann::json doc{
        {"schema", core::k_json_schema_version},
        {"command", command},
        {"dry_run", options.dry_run},
        {"state_dir", context.options.state_dir},
        {"journal", journal.path().string()},
        {"through", run.node_devices != nullptr ? nlohmann::json(run.node_devices->uri())
                                                : nlohmann::json(nullptr)},
        {"notes", plan.notes},
        {"refused", refused},
        {"actions", actions},
        {"error", result ? nlohmann::json(nullptr) : nlohmann::json(result.error().message)}};
    if (run.document != nullptr) {
      *run.document = std::move(doc);
    } else {
      out << core::dump_json(doc);
    }
  } else if (result && options.dry_run) {
    out << "dry run: nothing was changed\n";
  } else if (result && plan.actions.empty()) {
    out << "nothing to do\n";
  }
  if (!result) throw Failure(result.error());
}

}  // namespace pcipass::cli
