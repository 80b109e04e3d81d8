#include <pcipass/core/group_status.hpp>

namespace pcipass::core {

GroupStatus assess_group(const Inventory& inventory, const IommuGroup& group) {
  GroupStatus status;
  bool blocked = false;
  bool needs_bind = false;
  for (const PciAddress& address : group.members) {
    const PciDevice* dev = inventory.find(address);
    if (dev == nullptr) continue;
    if (dev->host_in_use()) {
      blocked = true;
      std::string reason = address.to_string() + " is used by the host: ";
      for (std::size_t i = 0; i < dev->host_uses.size(); ++i) {
        reason += (i > 0 ? "; " : "") + dev->host_uses[i];
      }
      status.reasons.push_back(std::move(reason));
    } else if (!dev->host_usage_unknown.empty()) {
      blocked = true;
      status.reasons.push_back(address.to_string() + ": " + dev->host_claim());
    }
    if (dev->stays_with_platform()) continue;
    status.endpoints.push_back(address);
    if (!dev->host_may_need() && !dev->driver.empty() && !dev->on_vfio()) {
      needs_bind = true;
      status.reasons.push_back(address.to_string() + " is on host driver " + dev->driver);
    }
  }
  if (blocked) {
    status.readiness = GroupReadiness::blocked;
  } else if (status.endpoints.empty()) {
    status.readiness = GroupReadiness::bridges_only;
    status.reasons.push_back("the group holds only bridges and host bridges");
  } else if (needs_bind) {
    status.readiness = GroupReadiness::needs_bind;
  }
  return status;
}

const char* to_string(GroupReadiness readiness) {
  switch (readiness) {
    case GroupReadiness::ready: return "ready";
    case GroupReadiness::needs_bind: return "needs-bind";
    case GroupReadiness::blocked: return "blocked";
    case GroupReadiness::bridges_only: return "bridges-only";
  }
  return "unknown";
}

const char* device_status(const PciDevice& device) {
  if (device.host_in_use()) return "host-in-use";
  if (!device.host_usage_unknown.empty()) return "host-usage-unknown";
  if (device.on_vfio()) return "vfio-bound";
  return "free";
}

}  // namespace pcipass::core
