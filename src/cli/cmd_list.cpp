#include "commands.hpp"
#include "guest_checks.hpp"
#include "table.hpp"

#include <pcipass/core/group_status.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <memory>
#include <ostream>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

const char* const k_no_iommu_message =
    "this host has no IOMMU groups: the IOMMU is missing or disabled. Enable VT-d (Intel) or "
    "AMD-Vi (AMD) in the firmware and boot with intel_iommu=on or amd_iommu=on (plus iommu=pt) "
    "on the kernel command line";

namespace {

struct ListFilters {
  std::string class_filter;
  std::string vendor_filter;
  std::vector<unsigned> groups;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_hex_text(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

// A class filter is a hex prefix of the 6-digit class code (`01`, `0108`,
// `010802`) or a case-insensitive part of the class name (`ethernet`).
bool matches_class(const core::PciDevice& d, const std::string& filter) {
  std::string f = lower(filter);
  if (f.starts_with("0x")) f = f.substr(2);
  if (is_hex_text(f) && f.size() <= 6 && f.size() % 2 == 0 && d.class_code) {
    return core::hex(*d.class_code, 6).substr(2).starts_with(f);
  }
  return lower(d.class_name).find(f) != std::string::npos;
}

// A vendor filter is a 4-digit hex id (`8086`) or a part of the vendor name.
bool matches_vendor(const core::PciDevice& d, const std::string& filter) {
  std::string f = lower(filter);
  if (f.starts_with("0x")) f = f.substr(2);
  if (is_hex_text(f) && f.size() == 4 && d.vendor_id) {
    return core::hex(*d.vendor_id, 4).substr(2) == f;
  }
  return lower(d.vendor_name).find(f) != std::string::npos;
}

std::string status_cell(const core::PciDevice& d) {
  if (!d.host_in_use() && !d.host_usage_unknown.empty())
    return std::string("host-usage-unknown: ") + d.host_usage_unknown;
  if (!d.host_in_use()) return core::device_status(d);
  std::string cell = "host-in-use: ";
  for (std::size_t i = 0; i < d.host_uses.size(); ++i) cell += (i ? "; " : "") + d.host_uses[i];
  return cell;
}

// The human name, with the SR-IOV relation: which PF a VF belongs to.
std::string name_cell(const core::PciDevice& d, const core::Inventory& inventory) {
  const std::string relation = core::sriov_relation(d, inventory);
  if (relation.empty()) return d.human_name;
  return d.human_name.empty() ? relation : d.human_name + " (" + relation + ")";
}

int run_list(Context& context, const ListFilters& filters) {
  auto loaded = load_inventory(context);
  core::Inventory& inventory = loaded.inventory;
  if (!inventory.has_iommu_groups()) warn(context, k_no_iommu_message);
  warn_unknown_host_usage(context, loaded);

  std::vector<const core::PciDevice*> shown;
  for (const auto& [address, d] : inventory.devices()) {
    if (!filters.class_filter.empty() && !matches_class(d, filters.class_filter)) continue;
    if (!filters.vendor_filter.empty() && !matches_vendor(d, filters.vendor_filter)) continue;
    if (!filters.groups.empty() &&
        (!d.iommu_group || std::find(filters.groups.begin(), filters.groups.end(), *d.iommu_group) ==
                               filters.groups.end())) {
      continue;
    }
    shown.push_back(&d);
  }

  const std::optional<core::DeviceHolders> holders = holders_for_listing(context);
  const auto held = [&](const core::PciDevice& d) -> const std::vector<core::DeviceHolder>& {
    static const std::vector<core::DeviceHolder> none;
    const auto it = holders->find(d.address);
    return it == holders->end() ? none : it->second;
  };

  if (context.options.json) {
    nlohmann::json doc = core::inventory_to_json(core::Inventory{}, loaded.source_label);
    doc["iommu"] = inventory.has_iommu_groups();
    doc["host"] = loaded.host.empty() ? nlohmann::json(nullptr) : loaded.host.to_json();
    // One device at a time, each written out before the next is made.
    std::size_t next = 0;
    const auto next_device = [&]() -> std::optional<nlohmann::json> {
      if (next == shown.size()) return std::nullopt;
      const core::PciDevice& d = *shown[next++];
      nlohmann::json device = core::device_to_json(d, inventory);
      device["held_by"] = holders ? core::holders_to_json(held(d)) : nlohmann::json(nullptr);
      return device;
    };
    std::string buffered;
    const auto sink = [&](std::string_view piece) {
      buffered += piece;
      if (buffered.size() >= 64 * 1024) {
        context.out->write(buffered.data(), static_cast<std::streamsize>(buffered.size()));
        buffered.clear();
      }
    };
    core::dump_json_streaming(std::move(doc), "devices", next_device, sink);
    context.out->write(buffered.data(), static_cast<std::streamsize>(buffered.size()));
    return 0;
  }
  std::vector<std::string> columns{"ADDRESS", "GROUP", "CLASS", "NAME", "DRIVER", "STATUS"};
  if (holders) columns.push_back("GUEST");
  Table table(columns);
  for (const core::PciDevice* d : shown) {
    std::vector<std::string> row{
        d->address.to_string(), d->iommu_group ? std::to_string(*d->iommu_group) : "-",
        d->class_name.empty() ? "-" : d->class_name, name_cell(*d, inventory),
        d->driver.empty() ? "-" : d->driver, status_cell(*d)};
    if (holders) row.push_back(held(*d).empty() ? "-" : core::describe_holders(held(*d)));
    table.add_row(row);
  }
  table.print(*context.out);
  return 0;
}

}  // namespace

void register_list(CLI::App& app, Context& context, int& exit_code) {
  auto filters = std::make_shared<ListFilters>();
  CLI::App* cmd = app.add_subcommand("list", "List PCI devices with IOMMU group, driver and status");
  cmd->add_option("--class", filters->class_filter,
                  "Only devices whose class code starts with this hex (01, 0108) or whose class "
                  "name contains this text (ethernet)");
  cmd->add_option("--vendor", filters->vendor_filter,
                  "Only devices of this vendor: a hex id (8086) or part of the name");
  cmd->add_option("--group", filters->groups, "Only devices in these IOMMU groups");
  cmd->callback([&context, &exit_code, filters] { exit_code = run_list(context, *filters); });
}

}  // namespace pcipass::cli
