#pragma once

// The files kdevops reads after `make bringup` planned the devices: the
// `pcie_passthrough_devices:` list of its extra vars and the per-guest
// `pcipassthrough:` entries of its nodes file. Both are YAML written by an
// emitter, so device and guest names (untrusted) are always quoted properly.

#include <pcipass/core/assignment_planner.hpp>

#include <string>

namespace pcipass::core {

// The `pcie_passthrough_devices:` extra-vars document, one entry per
// device in the keys kdevops' gen_pcie_passthrough_vars.sh writes:
// domain, bus, slot, function (hex strings), pcie_id, iommu_group, sdevice,
// pcie_human_name and target_guest.
std::string kdevops_extra_vars(const Assignment& plan);

// A nodes document (`guestfs_nodes:`) listing each planned guest with its
// `pcipassthrough:` map, numbers as YAML hex integers (`bus: 0x2d`), the
// form parse_nodes_yaml() reads back. An entry keeps its request label when
// that is a plain identifier, else it is named after its address
// (`pci_0000_2d_00_0`).
std::string kdevops_node_entries(const Assignment& plan);

}  // namespace pcipass::core
