#pragma once

// Actions as data (docs/architecture.md, "The flow of data"): planners compile a request
// into a list of actions; the executor prints them (--dry-run, --json) or
// performs them, journaling each before it is made.

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>
#include <pcipass/core/pci_device.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pcipass::core {

// A vendor:device pair, the identity the executor re-checks at an address
// just before it touches the device.
struct DeviceIds {
  std::uint16_t vendor = 0;
  std::uint16_t device = 0;
  // "1b96:2600".
  [[nodiscard]] std::string to_string() const;
  // Parses "1b96:2600"; nullopt for anything else.
  static std::optional<DeviceIds> parse(std::string_view text);
  // The ids of an inventory device; nullopt when its source gave none.
  static std::optional<DeviceIds> of(const PciDevice& device);
  bool operator==(const DeviceIds&) const = default;
};

// The driver pcipass binds devices to, and the kernel module providing it.
inline constexpr const char* k_vfio_driver = "vfio-pci";
inline constexpr const char* k_vfio_module = "vfio_pci";

// Load a kernel module (modprobe NAME). Never undone: other users may need it.
struct LoadModule {
  std::string name;
  bool operator==(const LoadModule&) const = default;
};

// Move one function to vfio-pci: set driver_override, unbind it from
// `current_driver` (if any), probe, verify. `restore_driver` is the driver
// it had before pcipass first touched it ("" for none): what release gives
// back, taken from the journal when an earlier run already recorded one.
// `identity` is the serials the device showed when planned: the executor
// refuses a device whose serials now disagree, and restore after a reboot
// never binds an identical twin that took the address.
//
// `through` is empty for this machine's sysfs. Otherwise it is the libvirt
// URI of the host the device is on, and the executor makes the change with
// virNodeDeviceDetachFlags(pci_..., "vfio") on that host instead of sysfs
// writes (bind -c URI for another host).
struct BindToVfio {
  PciAddress address;
  DeviceIds expected;
  std::string current_driver;
  std::string restore_driver;
  unsigned iommu_group = 0;
  DeviceIdentity identity = {};
  std::string through = {};
  bool operator==(const BindToVfio&) const = default;
};

// Give a function back: unbind it from `current_driver` when that is
// vfio-pci, clear driver_override, probe so `restore_driver` takes it, verify.
// `through` as for BindToVfio: virNodeDeviceReAttach on that host.
struct ReleaseDevice {
  PciAddress address;
  DeviceIds expected;
  std::string current_driver;
  std::string restore_driver;
  std::string through = {};
  bool operator==(const ReleaseDevice&) const = default;
};

// Whether a device to forget must be gone from the host.
enum class Presence {
  gone,         // release: it left the host; the executor checks it is still gone
  may_be_here,  // release --forget: the user dropped an entry they checked by hand
};

// Drop a device pcipass bound from the journal without touching it: it has
// left the host (card removed, SR-IOV functions not created again since a
// reboot), so there is no driver to give it back to, or the user asked.
//
// `through` as for BindToVfio: the device was bound on another host, whose
// libvirt (not this machine's sysfs) tells whether it is still there.
struct ForgetDevice {
  PciAddress address;
  DeviceIds expected;
  Presence presence = Presence::gone;
  std::string through = {};
  bool operator==(const ForgetDevice&) const = default;
};

// Write a whole file outside sysfs atomically, with `mode` and, when not
// empty, owned by `group`.
struct WriteFile {
  std::string path;
  std::string bytes;
  unsigned mode = 0644;
  std::string group;
  bool operator==(const WriteFile&) const = default;
};

// Change the mode and (when `group` is not empty) the group of an existing file.
// `previous_mode` and `previous_group` are what the file had before pcipass
// first changed it: the executor fills them in when it journals the action,
// and `release --all` puts them back (nullopt: not recorded).
struct SetPermissions {
  std::string path;
  unsigned mode = 0644;
  std::string group;
  std::optional<unsigned> previous_mode = std::nullopt;
  std::string previous_group = {};
  bool operator==(const SetPermissions&) const = default;
};

// Remove a file pcipass wrote, when it still holds `bytes`: a file someone
// changed since is theirs and stays. A missing file is already removed.
struct RemoveFile {
  std::string path;
  std::string bytes;
  bool operator==(const RemoveFile&) const = default;
};

// Give a file pcipass re-permissioned back `mode` and (when not empty)
// `group`, what it had before. A missing file has nothing to give back (a
// sysfs attribute gets its kernel default when it reappears).
struct RevertPermissions {
  std::string path;
  unsigned mode = 0644;
  std::string group;
  bool operator==(const RevertPermissions&) const = default;
};

// Drop the journal's entries for a file without touching the file: a mode
// change with no earlier mode recorded (the file was missing then) has
// nothing to give back, and must not stay in the journal for ever.
struct ForgetFile {
  std::string path;
  bool operator==(const ForgetFile&) const = default;
};

// Set how many SR-IOV VFs physical function `address` has (sysfs
// `sriov_numvfs`): 0 first when it has some and another non-zero count is
// wanted (the kernel refuses to go from one to the other), then `count`.
// `previous` is what it had before pcipass first changed it: the journal
// keeps the earliest, and `release --all` gives it back (an action with
// `undo` set, whose completion drops the PF's entries). `driver` is the PF's
// driver when planned (the kernel makes VFs only through it). `identity` is
// the PF's serials when planned: the executor refuses a PF whose serials now
// disagree, and restore after a reboot never gives VFs to an identical card
// that took the address (its VFs would reach the guests).
struct SetVfCount {
  PciAddress address;
  DeviceIds expected;
  std::string driver;
  unsigned count = 0;
  unsigned previous = 0;
  bool undo = false;
  DeviceIdentity identity = {};
  bool operator==(const SetVfCount&) const = default;
};

using Action = std::variant<LoadModule, BindToVfio, ReleaseDevice, ForgetDevice, WriteFile,
                            SetPermissions, RemoveFile, RevertPermissions, ForgetFile, SetVfCount>;

// One write to a sysfs attribute, relative to the sysfs root.
struct SysfsWrite {
  std::string path;   // "bus/pci/drivers_probe"
  std::string bytes;  // "0000:02:00.0"
  bool operator==(const SysfsWrite&) const = default;
};

// The sysfs writes `action` makes, in order (empty for actions that touch
// no sysfs attribute). The executor performs exactly these; --dry-run shows them.
std::vector<SysfsWrite> sysfs_writes(const Action& action);

// One line for people: "bind 0000:02:00.0 (1b96:2600) to vfio-pci, from nvme".
std::string describe(const Action& action);

// The action as data: {"action": "bind-to-vfio", "address": ..., ...}. The
// journal stores actions in this form, so field names never change.
nlohmann::json action_to_json(const Action& action);

// Reads what action_to_json() wrote. Fails with ExitCode::bad_input naming
// the field that is missing or malformed.
Result<Action> action_from_json(const nlohmann::json& json);

// The address an action is about, for the device actions (bind, release,
// forget); nullopt otherwise, SetVfCount included: a PF's VF count is kept
// apart from its bind entry.
std::optional<PciAddress> action_address(const Action& action);

// The libvirt URI of the host a device action is made on ("" for this
// machine, and for every action that is not a device's).
std::string action_through(const Action& action);

// The file an action is about, for the file actions; nullopt otherwise.
std::optional<std::string> action_path(const Action& action);

// True for the actions that undo an earlier one on the same path
// (RemoveFile, RevertPermissions, ForgetFile).
bool is_undo_of_file(const Action& action);

// Whether a file action stays within the folders a run was given (its sysfs,
// /dev and /etc roots): its path is absolute, clean (no `.`, `..` or doubled
// slashes) and inside one of `roots`, and a mode it sets has no set-uid,
// set-gid, sticky or world-writable bit. Device and module actions pass.
// Fails with ExitCode::refused naming the path, so a crafted or copied
// journal cannot make a run touch files elsewhere.
Status check_confined(const Action& action, const std::vector<std::string>& roots);

}  // namespace pcipass::core
