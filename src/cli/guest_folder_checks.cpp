#include "guest_folder_checks.hpp"

#include "guest_memory.hpp"

#include <pcipass/core/domain_xml.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/host/domain_file.hpp>
#include <pcipass/host/libvirt_domain.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

namespace {

std::set<core::PciAddress> planned_for(const core::Assignment& assignment,
                                       const std::string& guest) {
  std::set<core::PciAddress> out;
  if (const core::GuestAssignment* planned = assignment.find(guest)) {
    for (const core::AssignedDevice& device : planned->devices) out.insert(device.address);
  }
  return out;
}

std::string list_of(const std::set<core::PciAddress>& addresses) {
  if (addresses.empty()) return "no device";
  std::string out;
  for (const core::PciAddress& a : addresses) out += (out.empty() ? "" : ", ") + a.to_string();
  return out;
}

void refuse(const std::string& heading, const std::vector<std::string>& problems) {
  if (problems.empty()) return;
  std::string message = heading;
  for (const std::string& line : problems) message += "\n  " + line;
  throw Failure(message, ExitCode::refused);
}

}  // namespace

std::map<std::string, core::GuestDeviceRoute> check_guest_folder(
    Context& context, const std::string& xml_dir, const std::vector<std::string>& guests,
    const core::Assignment& assignment) {
  std::map<std::string, core::GuestDeviceRoute> routes;
  std::vector<std::string> problems;
  for (const std::string& guest : guests) {
    const std::set<core::PciAddress> planned = planned_for(assignment, guest);
    // A pcipass <hostdev> the plan no longer gives this guest: left in the
    // file, it would be defined with it (a file that cannot be read is the
    // business of the guest's own checks, or of whoever defines it).
    const std::filesystem::path file = guest_file(xml_dir, guest);
    if (auto text = read_optional_input(context, file.string(), false)) {
      if (auto xml = core::DomainXml::parse(*text)) {
        for (const core::PciHostdev& hostdev : xml->pci_hostdevs()) {
          if (hostdev.owner != core::HostdevOwner::pcipass || planned.contains(hostdev.address))
            continue;
          problems.push_back(file.string() + " holds pcipass's <hostdev> of " +
                             hostdev.address.to_string() + ", which the plan does not give guest " +
                             core::quote_for_message(guest) + ": take it out (pcipass detach " +
                             guest + " " + hostdev.address.to_string() + " --xml " +
                             file.string() + "), or plan it again");
        }
      }
    }
    const std::filesystem::path folder = std::filesystem::path(xml_dir) / guest;
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) continue;
    const auto files = host::read_kdevops_device_files(folder).value_or_throw();
    core::GuestDeviceRouting routing =
        core::route_guest_devices(guest, assignment.find(guest), files);
    problems.insert(problems.end(), routing.problems.begin(), routing.problems.end());
    routes.emplace(guest, std::move(routing.route));
  }
  refuse("refusing to bring up the guests: they would get devices pcipass has not checked:",
         problems);
  return routes;
}

void check_defined_guests(const host::LibvirtConnection& connection,
                          const std::vector<std::string>& guests,
                          const core::Assignment& assignment) {
  const auto domains = host::read_domain_devices(connection).value_or_throw();
  std::vector<std::string> problems;
  for (const core::DomainDevices& domain : domains) {
    if (std::find(guests.begin(), guests.end(), domain.name) == guests.end()) continue;
    std::set<core::PciAddress> held(domain.config.begin(), domain.config.end());
    held.insert(domain.live.begin(), domain.live.end());
    const std::set<core::PciAddress> planned = planned_for(assignment, domain.name);
    if (held == planned) continue;
    problems.push_back("guest " + core::quote_for_message(domain.name) + " is defined already at '" +
                       core::sanitize_untrusted(connection.uri()) + "' with " + list_of(held) +
                       ", but the plan gives it " + list_of(planned) +
                       ": a defined guest is booted as it is (make destroy first, then bring it "
                       "up again)");
  }
  refuse("refusing to bring up the guests:", problems);
}

}  // namespace pcipass::cli
