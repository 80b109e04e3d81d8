#pragma once

// Checks of a guest about to get PCI devices, shared by attach and bringup:
// they warn, they do not refuse, because the guest may still work.

#include "context.hpp"

#include <pcipass/core/domain_xml.hpp>

#include <string>
#include <vector>

namespace pcipass::cli {

// What a person should know before `guest` gets devices, one line each for
// warn(): its machine type is not q35 (devices then sit on a conventional
// PCI bus without their PCI Express capabilities); and, when `uri` is a
// qemu:///session one, its memory plus libvirt's 1 GiB margin exceeds the
// locked-memory limit of this user (the hard limit in PROC/self/limits; no
// warning when that cannot be read).
std::vector<std::string> guest_warnings(Context& context, const core::DomainXml& guest,
                                        const std::string& uri);

}  // namespace pcipass::cli
