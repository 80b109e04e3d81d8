#pragma once

#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// One named passthrough entry of a guest in kdevops_nodes.yaml, e.g.
// `zns1: {domain: 0x0000, bus: 0x2d, slot: 0x00, function: 0x0}`.
struct NodePassthrough {
  std::string name;
  PciAddress address;
};

// A guest of the nodes file and the devices it asks for.
struct GuestNode {
  std::string name;
  std::vector<NodePassthrough> passthrough;
};

// Parses a kdevops nodes file: `guestfs_nodes:` (or the older
// `vagrant_boxes:`), a list of guests with `name:` and an optional
// `pcipassthrough:` map. Numbers may be YAML hex (0x2d) or decimal.
// Fails with ExitCode::bad_input and the line of the problem when the text is
// not YAML or not of this shape.
Result<std::vector<GuestNode>> parse_nodes_yaml(std::string_view text);

}  // namespace pcipass::core
