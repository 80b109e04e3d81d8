#pragma once

// What `bringup --xml-dir` checks in the guests' folder, and in the libvirt
// that will define them, before anything changes. In kdevops' flow these
// files decide what reaches a guest as much as pcipass's own edit does:
// kdevops attaches its per-device files after define, and boots a guest
// that is defined already as it is.

#include "context.hpp"

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/kdevops_files.hpp>
#include <pcipass/host/libvirt.hpp>

#include <map>
#include <string>
#include <vector>

namespace pcipass::cli {

// For each of `guests` with a folder DIR/NAME: its kdevops per-device files
// split with pcipass (core::route_guest_devices). Throws core::Failure
// (ExitCode::refused) listing every problem: a per-device file naming a
// device the plan does not give that guest, two files of one device, and
// a pcipass <hostdev> in the guest's XML file of a device the plan no
// longer gives it (it would be defined with it). A file that cannot be
// read or parsed as one <hostdev> is bad input naming it.
std::map<std::string, core::GuestDeviceRoute> check_guest_folder(
    Context& context, const std::string& xml_dir, const std::vector<std::string>& guests,
    const core::Assignment& assignment);

// kdevops defines only guests that are not defined yet and boots the
// others as they are, so a guest of `guests` defined already at
// `connection` must hold exactly the devices the plan gives it. Throws
// core::Failure (ExitCode::refused) naming each one that does not.
void check_defined_guests(const host::LibvirtConnection& connection,
                          const std::vector<std::string>& guests,
                          const core::Assignment& assignment);

}  // namespace pcipass::cli
