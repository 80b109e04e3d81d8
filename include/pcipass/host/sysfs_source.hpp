#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/host/sysfs.hpp>

namespace pcipass::host {

// Builds the inventory from a sysfs tree: `bus/pci/devices/*` and the links
// and attributes under each function (config space for ids, class, revision
// and header type in one read; `driver`, `iommu_group`, `numa_node`, SR-IOV
// links, NVMe controllers, network interfaces, GPU memory). Names and host
// usage are filled by their own steps. A device whose attributes cannot be
// read fails the whole inventory (no silently partial table), with the path
// and the OS reason, ExitCode::host_error.
core::Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs);

// Adds the sysfs details behind human names (NVMe controllers, network
// interfaces, GPU memory, boot VGA) to an inventory another source built, for
// the devices this tree has. Used when the libvirt or lspci source describes
// the local host; unreadable details are skipped.
void read_sysfs_details(const Sysfs& sysfs, core::Inventory& inventory);

}  // namespace pcipass::host
