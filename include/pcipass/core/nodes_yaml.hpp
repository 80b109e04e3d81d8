#pragma once

#include <pcipass/core/device_identity.hpp>
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
  // `identity:` (pcipass's --write-nodes adds it; kdevops ignores it): the
  // serials of the device chosen, empty when the entry has none.
  DeviceIdentity identity = {};
};

// A guest of the nodes file and the devices it asks for.
struct GuestNode {
  std::string name;
  std::vector<NodePassthrough> passthrough;
};

// Parses a kdevops nodes file: `guestfs_nodes:` (or the older
// `vagrant_boxes:`), a list of guests with `name:` and an optional
// `pcipassthrough:` map. Numbers may be YAML hex (0x2d) or decimal; an
// entry's optional `identity:` is DeviceIdentity::to_text()'s form.
// Fails with ExitCode::bad_input and the line of the problem when the text is
// not YAML or not of this shape.
Result<std::vector<GuestNode>> parse_nodes_yaml(std::string_view text);

}  // namespace pcipass::core
