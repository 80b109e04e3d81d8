#include <pcipass/host/complete_inventory.hpp>

#include <pcipass/core/human_name.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

namespace pcipass::host {

void complete_inventory(core::Inventory& inventory, const core::PciNames& names,
                        const LocalHost* local, HaveDetails details, std::string_view foreign) {
  if (local != nullptr && details == HaveDetails::no) read_sysfs_details(local->sys, inventory);
  core::fill_names(inventory, names);
  const core::HumanNamer namer = core::HumanNamer::with_default_providers();
  for (auto& [address, device] : inventory.devices()) device.human_name = namer.name(device);
  if (local != nullptr) {
    mark_host_usage(inventory, *local);
    return;
  }
  const std::string why = foreign.empty() ? std::string("not this machine's inventory")
                                          : std::string(foreign);
  for (auto& [address, device] : inventory.devices()) device.host_usage_unknown = why;
}

}  // namespace pcipass::host
