#pragma once

#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_device.hpp>

#include <optional>
#include <string_view>

namespace pcipass::core {

// Reads one libvirt node-device document (`virsh nodedev-dumpxml`): address,
// class, vendor and product ids and database names, driver, IOMMU group, NUMA
// node, SR-IOV links and bridge capability. Returns nullopt for a device
// without `<capability type='pci'>` (`computer`, net, storage, ...). Fails
// with ExitCode::bad_input on XML that is not well-formed, a root other than
// `<device>`, or a missing or out-of-range address, class or id.
Result<std::optional<PciDevice>> parse_nodedev_xml(std::string_view xml);

}  // namespace pcipass::core
