#pragma once

#include <pcipass/core/inventory.hpp>

#include <string>
#include <vector>

namespace pcipass::core {

// Whether an IOMMU group can be given to a guest as a whole.
enum class GroupReadiness {
  ready,         // every endpoint is on vfio-pci or has no driver
  needs_bind,    // endpoints sit on host drivers; `pcipass bind` can move them
  blocked,       // a member is used by the host itself
  bridges_only,  // only bridges and host bridges: nothing to pass through
};

struct GroupStatus {
  GroupReadiness readiness = GroupReadiness::ready;
  std::vector<PciAddress> endpoints;  // the members that would go to a guest
  std::vector<std::string> reasons;   // one line per member that is not ready
};

// Assesses `group` against the devices of `inventory`.
GroupStatus assess_group(const Inventory& inventory, const IommuGroup& group);

// "ready", "needs-bind", "blocked", "bridges-only": the JSON spelling.
const char* to_string(GroupReadiness readiness);

// A device's status in listings: "host-in-use", "vfio-bound" or "free".
const char* device_status(const PciDevice& device);

}  // namespace pcipass::core
