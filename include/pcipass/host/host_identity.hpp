#pragma once

// Reading a host's identity (core/host_identity.hpp): this machine's from
// its trees, another's from its libvirt.

#include <pcipass/core/host_identity.hpp>
#include <pcipass/host/libvirt.hpp>
#include <pcipass/host/sysfs.hpp>

namespace pcipass::host {

// The identity of the host whose trees these are: its name from
// `proc`/sys/kernel/hostname, its machine id from `etc`/machine-id (when
// `etc` is given) and its system UUID from `sysfs`/class/dmi/id/product_uuid
// (readable by root only). A file that is missing or unreadable leaves its
// field unknown; this never fails.
core::HostIdentity read_local_identity(const Sysfs& sysfs, const Sysfs& proc, const Sysfs* etc);

// The identity of the host libvirt reaches over `connection`: its name
// (virConnectGetHostname), libvirt's host UUID (capabilities) and the
// firmware's system UUID (sysinfo, which libvirt reads with dmidecode). A
// call the driver does not offer leaves its field unknown; this never fails.
core::HostIdentity read_libvirt_identity(const LibvirtConnection& connection);

}  // namespace pcipass::host
