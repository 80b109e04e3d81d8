// `pcipass permissions`: let an unprivileged (qemu:///session) user's group
// use vfio devices: a udev rule for /dev/vfio/N, the sysfs attributes bind
// writes, and a memlock limit. Performed by the executor, journaled.

#include "commands.hpp"
#include "guest_memory.hpp"
#include "host_prep.hpp"

#include <pcipass/core/permissions_planner.hpp>
#include <pcipass/core/text.hpp>

#include <memory>

namespace pcipass::cli {

namespace {

struct PermissionsOptions {
  std::vector<std::string> devices;
  std::string group;
  std::string user;
  std::vector<std::string> guest_memory;
  std::vector<std::string> guests;
  std::string xml_dir;
  ChangeOptions change;
};

// "16G", "512M", "1048576K" or plain bytes; nullopt for anything else.
std::optional<std::uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t scale = 1;
  std::string digits = text;
  switch (text.back()) {
    case 'K':
    case 'k': scale = 1ull << 10; break;
    case 'M':
    case 'm': scale = 1ull << 20; break;
    case 'G':
    case 'g': scale = 1ull << 30; break;
    case 'T':
    case 't': scale = 1ull << 40; break;
    default: break;
  }
  if (scale != 1) digits.pop_back();
  const auto value = core::parse_decimal(digits);
  if (!value || *value <= 0 || static_cast<std::uint64_t>(*value) > (1ull << 50) / scale) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(*value) * scale;
}

bool etc_has_group(Context& context, const std::string& name) {
  const auto text = context.etc->read("group", 1u << 20);
  if (!text) return false;
  const std::string prefix = name + ":";
  return text->starts_with(prefix) || text->find("\n" + prefix) != std::string::npos;
}

int run_permissions(Context& context, const PermissionsOptions& options) {
  // Another host is refused before the lock: a refusal leaves no state folder behind.
  refuse_foreign_connection(context, context.options.connect);
  core::PermissionRequest request;
  request.group = !options.group.empty()                   ? options.group
                  : etc_has_group(context, "libvirt-qemu") ? "libvirt-qemu"
                                                           : "kvm";
  request.limit_subject =
      options.user.empty() ? core::LimitSubject::group : core::LimitSubject::user;
  request.limit_name = options.user.empty() ? request.group : options.user;
  if (!options.guest_memory.empty() && (!options.guests.empty() || !options.xml_dir.empty())) {
    throw core::Failure("--guest-memory gives the guests' sizes by hand; it does not go with "
                        "--guest or --xml-dir, which read them from the guests' definitions",
                        core::ExitCode::usage);
  }
  for (const std::string& size : options.guest_memory) {
    const auto bytes = parse_size(size);
    if (!bytes) {
      throw core::Failure("invalid --guest-memory " + core::quote_for_message(size) +
                              ": give a size like 16G, 512M or a number of bytes",
                          core::ExitCode::usage);
    }
    request.guest_memory.push_back(*bytes);
  }
  // A udev rule naming a missing group would go live before the chown that
  // finds out: the group must exist here (for the chown) and in ETC/group
  // (for the udev of the host ETC belongs to).
  if (core::is_valid_account_name(request.group)) {
    std::string missing;
    if (context.options.etc_root != "/etc" && !etc_has_group(context, request.group))
      missing = " in " + context.etc->display_path("group");
    else if (!context.os->has_group(request.group))
      missing = " on this machine";
    if (!missing.empty()) {
      throw core::Failure("no group " + core::quote_for_message(request.group) + missing +
                              "; create it (groupadd) or name an existing one with --group",
                          core::ExitCode::usage);
    }
  }
  request.sysfs_root = context.options.sysfs_root;
  request.etc_root = context.options.etc_root;
  request.dev_root = context.options.dev_root;

  const std::vector<core::PciAddress> addresses = resolve_devices(context, options.devices);
  const auto lock = lock_state(context, options.change);
  host::Journal journal =
      host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  const core::Inventory inventory = load_sysfs_inventory(context);
  for (const core::PciAddress& address : addresses) {
    const core::PciDevice* device = inventory.find(address);
    if (device == nullptr) {
      throw core::Failure("no device " + address.to_string() + " on this host",
                          core::ExitCode::usage);
    }
    if (!device->iommu_group) {
      throw core::Failure(address.to_string() + " is in no IOMMU group",
                          core::ExitCode::host_error);
    }
    request.devices.push_back({address, *device->iommu_group, device->driver});
  }
  core::Plan plan;
  if (options.guest_memory.empty()) {
    std::vector<core::PciAddress> addresses_held;
    for (const core::PermissionDevice& d : request.devices) addresses_held.push_back(d.address);
    GuestMemory guests =
        read_guest_memory(context, options.guests, options.xml_dir, addresses_held);
    plan.notes = std::move(guests.notes);
    if (guests.guests.empty() && guests.unlimited.empty()) {
      plan.notes.push_back(
          "no guest definition found that holds these devices: sizing the memlock limit for one "
          "8 GiB guest (name the guests with --guest, or give their sizes with --guest-memory)");
    }
    request.guest_memory = std::move(guests.bytes);
    request.guest_names = std::move(guests.guests);
    request.unlimited_for = std::move(guests.unlimited);
  }
  std::size_t in_effect = 0;
  plan.actions = core::changes_not_in_effect(
      core::plan_permissions(request).value_or_throw(), journal.state(),
      host::read_file_states(*context.os, journal.state()).value_or_throw(), in_effect);
  if (in_effect > 0) {
    plan.notes.push_back(std::to_string(in_effect) +
                         (in_effect == 1 ? " change is" : " changes are") +
                         " in effect already, as an earlier run made and journaled them");
  }
  execute_plan(context, plan, journal, options.change, {.command = "permissions"});
  return 0;
}

}  // namespace

void register_permissions(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<PermissionsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "permissions",
      "Let a group use vfio devices from qemu:///session: udev rule, sysfs modes, memlock limit");
  cmd->add_option("DEV", options->devices, "Devices: addresses (0000:2d:00.0 or 2d:00.0), pci_0000_2d_00_0, serial:SERIAL, /dev/nvme1n1, nvme1 or an interface name")->required();
  cmd->add_option("--group", options->group,
                  "Group given /dev/vfio/N and the sysfs files (default libvirt-qemu when it "
                  "exists in ETC/group, else kvm)");
  cmd->add_option("--user", options->user, "Give the memlock limit to this user, not the group");
  cmd->add_option("--guest", options->guests,
                  "Size the memlock limit for these guests (repeatable; default: the guests "
                  "whose definitions already hold the devices), read from --xml-dir or -c URI")
      ->allow_extra_args(false);
  cmd->add_option("--xml-dir", options->xml_dir,
                  "Read the guests' definitions from DIR/NAME/NAME.xml or DIR/NAME.xml "
                  "(kdevops' guestfs) instead of libvirt");
  cmd->add_option("--guest-memory", options->guest_memory,
                  "Memory of a guest (16G, 512M), instead of reading the guests' definitions; "
                  "repeatable; the limit is their sum plus 1 GiB")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every change that would be made, and make none");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback(
      [&context, &exit_code, options] { exit_code = run_permissions(context, *options); });
}

}  // namespace pcipass::cli
