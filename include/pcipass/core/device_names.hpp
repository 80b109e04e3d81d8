#pragma once

// The names people know devices by, wherever a command takes a DEV: a PCI
// address (0000:02:00.0, 02:00.0), libvirt's name (pci_0000_02_00_0), a
// serial (serial:S7KHNJ0W100001, any serial of device_identity.hpp), an
// NVMe block device or controller (/dev/nvme1n1, nvme1n1p2, /dev/nvme1,
// nvme1) or a network interface (enp5s0).

#include <pcipass/core/error.hpp>
#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_address.hpp>

#include <string_view>

namespace pcipass::core {

// True when `text` is a name to look up rather than an address: it starts
// with `serial:` or `/dev/`, or with a letter and has no ':' (and is not
// libvirt's pci_...). Anything else is an address, right or malformed.
bool is_device_name(std::string_view text);

// The address `text` names on `inventory`. Fails with ExitCode::usage when
// no device has that name (saying which names are understood) and when
// several do (listing them: a serial two devices share, say).
Result<PciAddress> resolve_device_name(std::string_view text, const Inventory& inventory);

}  // namespace pcipass::core
