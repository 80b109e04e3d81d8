#pragma once

// The files kdevops reads after `make bringup` planned the devices: the
// `pcie_passthrough_devices:` list of its extra vars and the per-guest
// `pcipassthrough:` entries of its nodes file. Both are YAML written by an
// emitter, so device and guest names (untrusted) are always quoted properly.

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/error.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// The `pcie_passthrough_devices:` extra-vars document, one entry per
// device in the keys kdevops' gen_pcie_passthrough_vars.sh writes:
// domain, bus, slot, function (hex strings), pcie_id, iommu_group, sdevice,
// pcie_human_name and target_guest.
std::string kdevops_extra_vars(const Assignment& plan);

// The top-level key kdevops_extra_vars() writes: the one key pcipass owns in
// an extra-vars file.
inline constexpr std::string_view k_extra_vars_key = "pcie_passthrough_devices";

// `existing` (kdevops' extra_vars.yaml, some 130 keys) with its top-level
// `pcie_passthrough_devices:` replaced by the list of `plan`, or the list
// appended when it has none. Every other byte stays: keys, values,
// comments, order, line ends. Checked by parsing both: every other
// top-level key must have the same value after the merge. Fails with
// ExitCode::bad_input, naming `source_name`, when `existing` is not a YAML
// mapping, or is one pcipass cannot splice line by line (flow style, the key
// twice); the caller then leaves the file as it was.
Result<std::string> merge_kdevops_extra_vars(std::string_view existing, const Assignment& plan,
                                             std::string_view source_name);

// A nodes document (`guestfs_nodes:`) listing each planned guest with its
// `pcipassthrough:` map, numbers as YAML hex integers (`bus: 0x2d`), the
// form parse_nodes_yaml() reads back. Entries are named as kdevops' nodes
// template names them, `passthrough1`, `passthrough2`, ... per guest in
// device order (kdevops' guestfs flow makes file names of them).
std::string kdevops_node_entries(const Assignment& plan);

// kdevops' guestfs flow writes, beside each guest's XML, one file per
// passthrough device, DIR/NAME/pcie_passthrough_ENTRY.xml holding one
// <hostdev>, and its bringup attaches every such file with `virsh
// attach-device NAME FILE --config` right after defining the guest. Its
// `make` rewrites the files of the devices still selected and leaves any
// other file there, which its bringup then attaches all the same.
inline constexpr std::string_view k_kdevops_device_file_prefix = "pcie_passthrough_";

struct KdevopsDeviceFile {
  std::string path;     // for messages
  PciAddress address;   // the device its <hostdev> names
};

// How the devices planned for one guest get into it with kdevops' attach
// step in place, so that each arrives exactly once: the ones a kdevops
// file attaches, and the ones pcipass must put into the guest's XML.
struct GuestDeviceRoute {
  std::vector<KdevopsDeviceFile> by_kdevops;
  std::vector<PciAddress> by_pcipass;
};

// Splits `planned` (nullptr: the guest gets no device, or passthrough is
// off) between `files` (the guest's kdevops files) and pcipass. A file
// whose device the plan does not give to this guest would reach the guest
// unchecked, and two files of one device would make kdevops' attach fail:
// each is a line of `problems` (naming the file, the device and the guest)
// and no route is usable then.
struct GuestDeviceRouting {
  GuestDeviceRoute route;
  std::vector<std::string> problems;
};
GuestDeviceRouting route_guest_devices(std::string_view guest, const GuestAssignment* planned,
                                       const std::vector<KdevopsDeviceFile>& files);

}  // namespace pcipass::core
