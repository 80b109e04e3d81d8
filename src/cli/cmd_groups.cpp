#include "commands.hpp"
#include "guest_checks.hpp"
#include "table.hpp"

#include <pcipass/core/group_status.hpp>
#include <pcipass/core/inventory_json.hpp>

#include <pcipass/core/device_holders.hpp>

#include <memory>
#include <ostream>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

namespace {

int run_groups(Context& context, bool show_all) {
  auto loaded = load_inventory(context);
  const core::Inventory& inventory = loaded.inventory;
  if (!inventory.has_iommu_groups()) throw Failure(k_no_iommu_message, ExitCode::host_error);
  warn_unknown_host_usage(context, loaded);

  const std::optional<core::DeviceHolders> holders = holders_for_listing(context);
  const auto held = [&](const core::PciAddress& address) {
    const auto it = holders->find(address);
    return it == holders->end() ? std::vector<core::DeviceHolder>{} : it->second;
  };

  if (context.options.json) {
    nlohmann::json doc = core::groups_to_json(inventory, loaded.source_label);
    for (auto& group : doc["groups"]) {
      for (auto& member : group["members"]) {
        const auto address = core::PciAddress::parse(member["address"].get<std::string>());
        member["held_by"] = holders && address ? core::holders_to_json(held(*address))
                                               : nlohmann::json(nullptr);
      }
    }
    *context.out << core::dump_json(doc);
    return 0;
  }
  bool first = true;
  std::size_t hidden = 0;
  for (const auto& [number, group] : inventory.groups()) {
    const core::GroupStatus status = core::assess_group(inventory, group);
    if (!show_all && status.readiness == core::GroupReadiness::bridges_only) {
      ++hidden;
      continue;
    }
    if (!first) *context.out << "\n";
    first = false;
    *context.out << "IOMMU group " << number << ": " << core::to_string(status.readiness) << "\n";
    std::vector<std::string> columns{"  ADDRESS", "KIND", "NAME", "DRIVER", "STATUS"};
    if (holders) columns.push_back("GUEST");
    Table table(columns);
    for (const core::PciAddress& a : group.members) {
      const core::PciDevice* d = inventory.find(a);
      if (d == nullptr) continue;
      std::vector<std::string> row{"  " + a.to_string(), d->kind_name(), d->human_name,
                                   d->driver.empty() ? "-" : d->driver, core::device_status(*d)};
      if (holders) row.push_back(held(a).empty() ? "-" : core::describe_holders(held(a)));
      table.add_row(row);
    }
    table.print(*context.out);
    for (const std::string& reason : status.reasons) *context.out << "  why: " << reason << "\n";
    for (const core::PciAddress& a : group.members) {
      const core::PciDevice* d = inventory.find(a);
      if (d != nullptr && !d->stays_with_platform() && d->cannot_reset()) {
        *context.out << "  note: " << a.to_string() << " has " << core::k_no_reset_note << "\n";
      }
    }
  }
  if (hidden > 0) {
    *context.out << "\n(" << hidden << " group" << (hidden == 1 ? "" : "s")
                 << " holding only bridges and host bridges not shown; --all shows them)\n";
  }
  return 0;
}

}  // namespace

void register_groups(CLI::App& app, Context& context, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "groups", "List IOMMU groups and whether each can be passed through as a whole");
  auto show_all = std::make_shared<bool>(false);
  cmd->add_flag("--all", *show_all,
                "Also show groups holding only bridges and host bridges (JSON always has all)");
  cmd->callback([&context, &exit_code, show_all] { exit_code = run_groups(context, *show_all); });
}

}  // namespace pcipass::cli
