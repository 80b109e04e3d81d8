#pragma once

// The files kdevops reads after `make bringup` planned the devices: the
// `pcie_passthrough_devices:` list of its extra vars and the per-guest
// `pcipassthrough:` entries of its nodes file. Both are YAML written by an
// emitter, so device and guest names (untrusted) are always quoted properly.

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/error.hpp>

#include <string>
#include <string_view>

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

}  // namespace pcipass::core
