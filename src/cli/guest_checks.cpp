#include "guest_checks.hpp"

#include <pcipass/core/device_holders.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/host/libvirt_domain.hpp>

#include <pcipass/core/doctor.hpp>
#include <pcipass/core/human_name.hpp>
#include <pcipass/core/permissions_planner.hpp>

namespace pcipass::cli {

std::vector<std::string> guest_warnings(Context& context, const core::DomainXml& guest,
                                        const std::string& uri) {
  std::vector<std::string> warnings;
  const std::string name = "guest '" + guest.name() + "'";
  if (!guest.is_q35()) {
    const std::string machine = guest.machine();
    warnings.push_back(
        name + " is not a q35 machine (" +
        (machine.empty() ? "no machine type set" : "machine type '" + machine + "'") +
        "): devices passed through to it sit on a conventional PCI bus and lose "
        "their PCI Express capabilities; define it with machine='q35'");
  }
  const auto lockable = guest.lockable_memory();
  if (!uri.ends_with("/session") || !lockable) return warnings;
  const auto limits = context.proc->read("self/limits", 1u << 16);
  const auto memlock = limits ? core::parse_proc_limits_memlock(*limits) : std::nullopt;
  if (!memlock || !memlock->hard) return warnings;  // unknown, or unlimited
  if (lockable->basis == core::LockableMemory::Basis::locked) {
    warnings.push_back(name + " locks all its memory (<memoryBacking><locked/>), which needs an "
                              "unlimited memlock limit, but this user may lock only " +
                       core::format_bytes(*memlock->hard) + " (hard limit in " +
                       context.proc->display_path("self/limits") + "): the guest will not start; "
                       "pcipass permissions --guest NAME --xml-dir DIR writes that limit");
    return warnings;
  }
  // libvirt locks the guest's memory plus a margin when a device is passed
  // through, or exactly its memtune hard_limit.
  const bool hard = lockable->basis == core::LockableMemory::Basis::hard_limit;
  const std::uint64_t needed = lockable->kib * 1024 + (hard ? 0 : core::k_memlock_margin);
  if (needed <= *memlock->hard) return warnings;
  warnings.push_back(name + " needs " + core::format_bytes(needed) + " of locked memory (" +
                     (hard ? "its memtune hard_limit" : "its memory plus 1 GiB") +
                     ") but this user may lock only " +
                     core::format_bytes(*memlock->hard) + " (hard limit in " +
                     context.proc->display_path("self/limits") + "), and " + uri +
                     " cannot raise it: the guest will not start with a passed-through device; "
                     "raise the limit with pcipass permissions (which reads the guests' "
                     "definitions: --guest NAME, --xml-dir DIR; or --guest-memory " +
                     std::to_string(lockable->kib / 1024) + "M for this guest alone) and log in "
                     "again");
  return warnings;
}

std::optional<core::DeviceHolders> holders_for_listing(Context& context) {
  if (select_source(context.options) != SourceKind::libvirt) return std::nullopt;
  const auto connection = context.open_libvirt(context.options.connect).value_or_throw();
  return core::holders_of(host::read_domain_devices(connection).value_or_throw());
}

std::vector<std::pair<core::PciAddress, std::string>> device_guests(const core::Assignment& assignment) {
  std::vector<std::pair<core::PciAddress, std::string>> out;
  for (const core::GuestAssignment& guest : assignment.guests) {
    for (const core::AssignedDevice& device : guest.devices) out.emplace_back(device.address, guest.guest);
  }
  return out;
}

void check_holders(Context& context, const host::LibvirtConnection& connection,
                   const std::vector<std::pair<core::PciAddress, std::string>>& wanted,
                   bool force, const std::string& verb) {
  if (wanted.empty()) return;
  const core::DeviceHolders holders =
      core::holders_of(host::read_domain_devices(connection).value_or_throw());
  const std::vector<std::string> problems = core::held_elsewhere(holders, wanted);
  if (problems.empty()) return;
  if (force) {
    for (const std::string& line : problems) warn(context, line + " (--force: going ahead)");
    return;
  }
  throw core::Failure(verb + " (domains of " + connection.uri() + "):\n  " +
                          core::join(problems, "\n  ") +
                          "\n  take each device out of the guest holding it first, or pass --force",
                      core::ExitCode::refused);
}

}  // namespace pcipass::cli
