#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/host/sysfs.hpp>

#include <span>

namespace pcipass::host {

// Builds the inventory from a sysfs tree: `bus/pci/devices/*` and the links
// and attributes under each function (config space for ids, class, revision
// and header type in one read; `driver`, `iommu_group`, `numa_node`, SR-IOV
// links, NVMe controllers, network interfaces, GPU memory). Names and host
// usage are filled by their own steps. A device whose attributes cannot be
// read fails the whole inventory (no silently partial table), with the path
// and the OS reason, ExitCode::host_error.
core::Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs);

// The same for only the functions `wanted` names and the other members of
// their IOMMU groups (from `kernel/iommu_groups/N/devices`): everything
// planning, binding or assigning those functions looks at, without reading
// the rest of a host that may have thousands of functions. Each device read
// is exactly what the whole read gives for it; an address the tree lacks is
// left out, so the caller reports it as it would for the whole inventory.
core::Result<core::Inventory> read_sysfs_inventory(const Sysfs& sysfs,
                                                   std::span<const core::PciAddress> wanted);

// True when the kernel made IOMMU groups (`kernel/iommu_groups` has one):
// what tells "no IOMMU" from "the named devices have no group" when only
// some devices were read.
bool has_iommu_groups(const Sysfs& sysfs);

// The one function at `address`, read now with its details and identity
// (not its slot label): what the executor re-checks just before it acts.
core::Result<core::PciDevice> read_sysfs_device(const Sysfs& sysfs, const core::PciAddress& address);

// Adds the sysfs details behind human names (NVMe controllers, network
// interfaces, GPU memory, boot VGA) and identity (DSN, VPD serial, slot
// label) to an inventory another source built, for
// the devices this tree has. Used when the libvirt or lspci source describes
// the local host; unreadable details are skipped.
void read_sysfs_details(const Sysfs& sysfs, core::Inventory& inventory);

}  // namespace pcipass::host
