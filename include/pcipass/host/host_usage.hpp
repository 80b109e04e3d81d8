#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/host/sysfs.hpp>

namespace pcipass::host {

// Marks every device the host itself needs, with a reason a person can check:
//  - block devices behind mounted filesystems or active swap, following
//    partitions and device-mapper/md holders down to their PCI controllers
//    ("backs / (ext4 on /dev/nvme0n1p2)");
//  - NICs carrying a route (the default route first) or a global IPv6
//    address, through bridges, bonds and VLANs ("default route via enp5s0");
//  - the boot VGA device and framebuffer consoles.
// `sys` is the sysfs tree, `proc` the matching /proc (for a simulated host,
// its own proc/ folder, never the running machine's). Missing /proc files
// mean "nothing in use" for that probe; nothing here fails the listing.
void mark_host_usage(core::Inventory& inventory, const Sysfs& sys, const Sysfs& proc);

}  // namespace pcipass::host
