#pragma once

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_names.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs.hpp>

#include <string_view>

namespace pcipass::host {

// Whether a source already read the details behind human names (the sysfs
// source does; libvirt and lspci do not).
enum class HaveDetails { yes, no };

// Turns what a source read into the full inventory every command sees:
// database names, the sysfs details behind human names (when `local` is
// given and the source lacks them), human names, and host usage. `local` is
// this machine, given only when the inventory is this machine's: its sysfs
// and /proc say nothing about another host's devices. Without it every
// device's host usage is unknown, for the reason `foreign` gives ("lspci
// text, not this machine's /sys"), so none of them is ever called free.
void complete_inventory(core::Inventory& inventory, const core::PciNames& names,
                        const LocalHost* local, HaveDetails details,
                        std::string_view foreign = {});

}  // namespace pcipass::host
