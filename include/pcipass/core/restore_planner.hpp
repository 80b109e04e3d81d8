#pragma once

// Decisions for `pcipass restore`: what the journal records and a reboot
// loses (drivers, driver_override, sysfs modes), and what a crashed run left
// half done, turned back into actions. Pure: the host's state comes in as
// the inventory and the FileStates of the journal's paths.

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/journal_state.hpp>

#include <string>
#include <vector>

namespace pcipass::core {

struct RestoreRequest {
  // Whether devices the host uses now (a disk mounted at boot) are re-bound anyway.
  Force force = Force::no;
  // The sysfs root the journal's paths were written under ("/sys"): a path
  // in its vfio-pci driver folder appears once the plan loads vfio_pci.
  std::string sysfs_root;
};

// The restore plan, and the devices left alone by a safety check (one line
// each): the plan still restores everything else, then restore fails with
// ExitCode::refused naming them.
struct RestorePlan {
  Plan plan;
  std::vector<std::string> refused;
};

// For each device the journal binds (done, pending or failed alike: a crashed
// bind is finished): a BindToVfio when it is not on vfio-pci now, after
// checking that the same vendor:device sits at the address, that its
// serials do not disagree with the recorded ones (an identical twin that
// took the address after a renumbering is refused, and where the bound
// device went is said), that it is in an IOMMU group and that the host does
// not use it (unless Force::yes); a note when it is already on vfio-pci,
// gone, or its release was interrupted. For
// each file and mode the journal records: the recorded action again when
// the file is missing or differs, or its entry is not done (an earlier run
// failed to record it), a note when it is as recorded or an interrupted
// `release --all` was undoing it. vfio_pci is loaded first when a bind needs
// it, or when the journal's load of it is not done.
RestorePlan plan_restore(const Inventory& inventory, const JournalState& journal, VfioModule vfio,
                         const FileStates& files, const RestoreRequest& request);

}  // namespace pcipass::core
