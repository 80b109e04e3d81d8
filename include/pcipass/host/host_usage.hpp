#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/host/sysfs.hpp>

namespace pcipass::host {

// The trees of the host an inventory describes, when it is this machine (or
// a simulated host standing for it): sysfs and /proc, and, when given, /dev
// (for the exclusive-open probe) and /run (udev's database, which names the
// members of ZFS pools).
struct LocalHost {
  const Sysfs& sys;
  const Sysfs& proc;
  const Sysfs* dev = nullptr;
  const Sysfs* run = nullptr;
};

// Marks every device the host itself needs, with a reason a person can check:
//  - block devices behind mounted filesystems or active swap, following
//    partitions, device-mapper/md holders, every member of a btrfs
//    filesystem and every member disk of a mounted ZFS pool down to their PCI
//    controllers ("backs / (ext4 on /dev/nvme0n1p2)");
//  - block devices someone holds open exclusively (mounted, swap, RAID/LVM
//    member, ZFS vdev: an O_EXCL open fails with EBUSY), which catches what
//    no list of filesystems can;
//  - NICs carrying a route (the default route first) or a global IPv6
//    address, through bridges, bonds and VLANs ("default route via enp5s0");
//  - the boot VGA device and framebuffer consoles.
// When / cannot be traced to a device (or /proc has no mountinfo), no
// storage controller is called free: each one the host is not known to use
// gets PciDevice::host_usage_unknown with the reason. Missing /proc files
// mean "nothing in use" for the other probes; nothing here fails the listing.
void mark_host_usage(core::Inventory& inventory, const LocalHost& host);

}  // namespace pcipass::host
