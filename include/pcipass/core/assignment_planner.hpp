#pragma once

// Which device goes to which guest: the decision behind `plan`, `bringup`
// and `attach`. Pure: it reads the inventory and the request and checks
// everything before anything changes, reporting every problem at once.

#include <pcipass/core/actions.hpp>
#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/dot_config.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/nodes_yaml.hpp>

#include <optional>
#include <string>
#include <vector>

namespace pcipass::core {

// A device the user asked for, with what they knew about it when choosing.
struct RequestedDevice {
  PciAddress address;
  // The vendor:device the user selected (the .config's `_VENDOR_DEVICE`):
  // the device at the address must still be this one.
  std::optional<DeviceIds> expected;
  std::optional<unsigned> expected_group;  // the group the menu showed
  // The serials the device had when chosen (the .config's `_IDENTITY`): a
  // device at the address with another serial is a twin, not this one.
  DeviceIdentity expected_identity = {};
  std::string name;                        // the menu's or nodes file's label
  std::string target_guest;                // for `each`; "" otherwise
};

// Whether an incomplete IOMMU group is refused or completed.
enum class GroupCompletion { refuse_incomplete, add_members };

// Whether a device whose serials are found at another address now (moved
// by a renumbering, a card added, a slot changed) is taken there.
enum class FollowMoved { no, yes };

struct AssignmentRequest {
  PassthroughTechnique technique = PassthroughTechnique::first;
  std::string specific_guest;  // the guest of `specific`
  std::vector<RequestedDevice> devices;
  // The guests that exist, in order (the nodes file's, or --guests). Empty
  // means unknown: then only techniques that name their guests work, and
  // the names cannot be checked.
  std::vector<std::string> guests;
  Force force = Force::no;
  GroupCompletion completion = GroupCompletion::refuse_incomplete;
  FollowMoved follow_moved = FollowMoved::no;
};

struct AssignedDevice {
  PciAddress address;
  DeviceIds ids;
  DeviceIdentity identity;  // the serials it shows now
  unsigned iommu_group = 0;
  std::string name;              // the device's human name (else the request's label)
  std::string label;             // the request's label (menu name, nodes entry name), or ""
  std::string kdevops_name;      // kdevops' name: "ADDR IOMMU group N - NAME" (human_name.hpp)
  std::string sdevice;           // the subsystem's name, else the device's (kdevops' `sdevice`)
  bool added_for_group = false;  // not asked for: completes its IOMMU group
  bool host_in_use = false;      // taken from the host with Force::yes
};

struct GuestAssignment {
  std::string guest;
  std::vector<AssignedDevice> devices;  // by address
};

// The plan: guests in the order of the request's guest list (then first
// mention), only guests that get devices, and lines a person should read.
struct Assignment {
  std::vector<GuestAssignment> guests;
  std::vector<std::string> notes;
  // Every device of every guest, by address.
  [[nodiscard]] std::vector<PciAddress> all_devices() const;
  // The guest's devices, or nullptr when it gets none.
  [[nodiscard]] const GuestAssignment* find(const std::string& guest) const;
};

// True for names a guest may have here: a letter or digit, then letters,
// digits, '.', '_' and '-', at most 63 in all (a host name's rules). Guest
// names become file names (GUEST.xml) and YAML keys, so nothing else passes.
bool is_valid_guest_name(std::string_view name);

// Spreads `request.devices` over the guests by the technique: `first` all to
// the first guest, `specific` all to `specific_guest`, `each` every device
// to its own target, `roundrobin` IOMMU group by IOMMU group over the guests
// in order. Refuses with ExitCode::refused, every problem on its own line
// after "refusing to assign the devices:", for: unknown addresses; a vendor:device other
// than the one selected; a device whose serials differ from the selected
// one's (naming both, and where the selected one is now: with
// FollowMoved::yes it is taken there instead, with a note); bridges; devices without IOMMU group or ids; a
// device asked for by two guests; an IOMMU group split between guests or
// with members left out (unless GroupCompletion::add_members, which adds
// them to the same guest); guests not in the guest list or with names
// is_valid_guest_name() refuses; a technique
// without the guests it needs; devices the host uses (unless Force::yes).
Result<Assignment> plan_assignment(const Inventory& inventory, const AssignmentRequest& request);

// The request a `.config` describes: its technique, target host name and
// selected devices with their ids, group, label and target guest.
AssignmentRequest request_from_config(const PassthroughChoices& choices);

// The request a nodes file describes: each guest's `pcipassthrough:`
// entries go to that guest (technique `each`); the guest list is the file's.
AssignmentRequest request_from_nodes(const std::vector<GuestNode>& nodes);

// The guest names of a nodes file, in order.
std::vector<std::string> guest_names(const std::vector<GuestNode>& nodes);

}  // namespace pcipass::core
