#pragma once

// SR-IOV rules shared by the planners: a physical function (PF) owns its
// virtual functions (VFs). The PF's driver created them and removes them
// when it is unbound, so a PF with VFs enabled never moves to vfio-pci or to
// a guest while they exist, and a PF and its VFs never go to two guests.

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_device.hpp>

#include <string>

namespace pcipass::core {

// The number of VFs `d` has enabled now: sysfs `sriov_numvfs`, else the
// VFs the source listed; 0 for a VF or a function without SR-IOV.
unsigned enabled_vfs(const PciDevice& d);

// Why `pf` cannot move to vfio-pci (or a guest) while its VFs exist, for a
// refusal after "ADDRESS: ", or "" when it can: it has no VFs enabled, or
// is on vfio-pci already (which keeps VFs it created). On its driver,
// unbinding removes the VFs; without one, vfio-pci refuses a PF with SR-IOV
// enabled.
std::string vfs_lost_by_unbinding(const PciDevice& pf);

// "VF 3 of 0000:01:00.0", "PF of 63 VFs" or "": the SR-IOV relation of a
// function, for listings. The VF number is its position among the PF's VFs
// when the source lists them.
std::string sriov_relation(const PciDevice& d, const Inventory& inventory);

}  // namespace pcipass::core
