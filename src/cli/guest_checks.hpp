#pragma once

// Checks of a guest about to get PCI devices, shared by attach, plan and
// bringup: warnings about the guest itself (it may still work), and the
// refusal of a device another guest holds.

#include "context.hpp"

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/device_holders.hpp>
#include <pcipass/core/domain_xml.hpp>
#include <pcipass/host/libvirt.hpp>

#include <optional>
#include <utility>

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

// Which guest holds each device, for listings: read from the libvirt
// connection the inventory came from (the same host), nullopt when it came
// from sysfs or lspci text (no domains are read then: a simulated or
// another host's tree is never mixed with this machine's guests).
std::optional<core::DeviceHolders> holders_for_listing(Context& context);

// Each (device, guest) pair of an assignment.
std::vector<std::pair<core::PciAddress, std::string>> device_guests(const core::Assignment& assignment);

// Reads every domain of `connection` and throws core::Failure
// (ExitCode::refused), listing every such device, when a device of `wanted`
// is held by a domain other than its guest (see core::held_elsewhere); with
// `force` it warns instead. `verb` begins the refusal ("refusing to attach").
void check_holders(Context& context, const host::LibvirtConnection& connection,
                   const std::vector<std::pair<core::PciAddress, std::string>>& wanted,
                   bool force, const std::string& verb);

}  // namespace pcipass::cli
