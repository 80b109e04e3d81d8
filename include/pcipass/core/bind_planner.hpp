#pragma once

// Decisions for `bind` and `release`: pure functions from the inventory, the
// journal and the user's request to the actions the executor performs. They
// check everything first and report every problem at once, before anything
// changes.

#include <pcipass/core/actions.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/journal_state.hpp>

#include <string>
#include <vector>

namespace pcipass::core {

// Whether devices the host uses may be taken anyway.
enum class Force { no, yes };
// Whether a named device brings the rest of its IOMMU group along.
enum class GroupExpansion { whole_groups, named_only };
// Whether the vfio-pci driver is registered on the host now.
enum class VfioModule { loaded, missing };

struct BindRequest {
  std::vector<PciAddress> devices;
  Force force = Force::no;
  GroupExpansion expansion = GroupExpansion::whole_groups;
};

// Which journaled devices `release` gives back.
enum class ReleaseScope { named, all };

struct ReleaseRequest {
  std::vector<PciAddress> devices;  // with ReleaseScope::named
  ReleaseScope scope = ReleaseScope::named;
};

// What a planner decided: the actions in order, and one line per thing a
// person should know (members added to complete a group, devices skipped).
struct Plan {
  std::vector<Action> actions;
  std::vector<std::string> notes;
  // Things a safety check left alone while the rest goes ahead, one line
  // each (release --all): the run does the actions, then fails with
  // ExitCode::refused listing these.
  std::vector<std::string> refused = {};
};

// Plans moving `request.devices` (and, by default, the other endpoints of
// their IOMMU groups) to vfio-pci. Refuses with ExitCode::refused, one
// problem per line after "refusing to bind:", for unknown addresses,
// bridges, devices without an IOMMU group or ids, and devices the host uses
// (unless Force::yes). Devices the journal already holds keep the driver it
// recorded as the one to restore; devices already on vfio-pci by an earlier
// bind are skipped with a note.
Result<Plan> plan_bind(const Inventory& inventory, const BindRequest& request,
                       const JournalState& journal, VfioModule vfio);

// Plans giving journaled devices back to the driver they had; a device that
// has left the host is forgotten. For named devices, refuses with
// ExitCode::refused, one problem per line after "refusing to release:", for
// devices the journal does not hold, devices that now carry other ids, and
// devices that sit on a driver pcipass did not put them on. With
// ReleaseScope::all those go to Plan::refused instead and the rest is
// planned: one changed card must not keep everything else from its driver.
Result<Plan> plan_release(const Inventory& inventory, const ReleaseRequest& request,
                          const JournalState& journal);

// Plans dropping the named devices from the journal without touching them
// (release --forget): for an entry release refuses (the card at the address
// changed) that the user has checked by hand. Refuses with ExitCode::refused
// devices the journal does not hold.
Result<Plan> plan_forget(const ReleaseRequest& request, const JournalState& journal);

// The file name of the boot service `install-service` writes. `release
// --all` leaves it in place: systemd must disable it before it goes, and
// with nothing journaled the service does nothing.
inline constexpr const char* k_restore_unit_name = "pcipass-restore.service";

// What `release --all` undoes besides devices, newest first: a RemoveFile
// for each file pcipass wrote (kept, with a note, when someone changed it
// since: `files` has its content now) and a RevertPermissions back to the
// mode and group each re-permissioned file had before.
Plan plan_release_files(const JournalState& journal, const FileStates& files);

}  // namespace pcipass::core
