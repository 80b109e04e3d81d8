#pragma once

#include <pcipass/core/error.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/host/libvirt.hpp>

namespace pcipass::host {

// The inventory libvirt's node-device API gives over `connection`: every PCI
// function with ids, database names, class, driver, IOMMU group, NUMA node
// and SR-IOV links. Fails with libvirt's message (ExitCode::host_error) or,
// for XML pcipass cannot read, `reading node device pci_0000_00_02_0:
// <reason>` (ExitCode::bad_input).
core::Result<core::Inventory> read_libvirt_inventory(const LibvirtConnection& connection);

}  // namespace pcipass::host
