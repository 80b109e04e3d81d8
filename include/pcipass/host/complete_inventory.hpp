#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_names.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs.hpp>

namespace pcipass::host {

// Whether a source already read the details behind human names (the sysfs
// source does; libvirt and lspci do not).
enum class HaveDetails { yes, no };

// Turns what a source read into the full inventory every command sees:
// database names, the sysfs details behind human names (when `local` is
// given and the source lacks them), human names, and host usage (only with
// `local`; a remote host's usage cannot be seen from here).
void complete_inventory(core::Inventory& inventory, const core::PciNames& names,
                        const LocalHost* local, HaveDetails details);

}  // namespace pcipass::host
