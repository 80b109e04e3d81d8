#pragma once

// SR-IOV rules shared by the planners: a physical function (PF) owns its
// virtual functions (VFs). The PF's driver created them and removes them
// when it is unbound, so a PF with VFs enabled never moves to vfio-pci or to
// a guest while they exist, and a PF and its VFs never go to two guests.

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/journal_state.hpp>
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

// `pcipass vfs PF COUNT`: give a PF `count` VFs.
struct VfCountRequest {
  PciAddress pf;
  unsigned count = 0;
  Force force = Force::no;  // change VFs the host uses
};

// One SetVfCount for `request`, recording the PF's serials, or none (with a
// note) when the PF has that many already and no journal entry of it is
// left unfinished (one that is gets the same count written again, which
// finishes it). Fails with ExitCode::usage for a device that is missing or
// no SR-IOV PF, or a count above its sriov_totalvfs; with ExitCode::refused,
// every problem listed, for a PF without ids or driver (the kernel makes
// VFs only through the PF's driver), one on vfio-pci, and VFs the change
// would destroy (every current one, since the kernel goes through 0) that
// are on vfio-pci or bound by pcipass (release them first) or that the host
// uses (--force).
Result<Plan> plan_vf_count(const Inventory& inventory, const VfCountRequest& request,
                           const JournalState& journal);

// release --all's part: each PF whose VF count pcipass changed gets its
// earlier count back (a SetVfCount with `undo`), after `releasing` (the
// devices the same run gives back). A PF whose VFs would be destroyed while
// one is on vfio-pci and not among `releasing`, whose ids changed, or whose
// serials say it is another card, is left alone: a line in `refused`.
Plan plan_vf_count_undo(const Inventory& inventory, const JournalState& journal,
                        const std::vector<PciAddress>& releasing);

// restore's first step: each PF whose VF count pcipass set, and that has
// another count now (a reboot), gets it again, so that its VFs exist before
// they are bound. A PF gone, carrying other ids, or another card by its
// serials (an identical card that took the address: its VFs would reach the
// guests), is a line in `refused`.
Plan plan_vf_count_restore(const Inventory& inventory, const JournalState& journal);

}  // namespace pcipass::core
