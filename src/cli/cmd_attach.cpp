// `pcipass attach` and `pcipass detach`: put pcipass's <hostdev> elements
// into one guest, or take them out again, through libvirt (the persistent
// definition; with --live the running guest too) or in a domain XML file
// (--xml). attach checks the devices the way the planner does first.

#include "commands.hpp"
#include "guest_checks.hpp"
#include "host_prep.hpp"
#include "templates.hpp"

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/text_diff.hpp>
#include <pcipass/host/domain_file.hpp>
#include <pcipass/host/libvirt_domain.hpp>

#include <pcipass/core/inventory_json.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <ostream>

namespace pcipass::cli {

namespace {

using core::ExitCode;
using core::HostdevChange;

enum class Operation { attach, detach };

struct AttachOptions {
  std::string guest;
  std::vector<std::string> devices;
  std::string xml_file;  // empty: the libvirt domain
  bool live = false;
  bool whole_groups = false;
  bool force = false;
  bool dry_run = false;
};

// A device to put in or take out, and why it is in the list.
struct Item {
  core::PciAddress address;
  std::optional<unsigned> completes_group;  // not named: the rest of this IOMMU group
};

// What happened to one device in each part of the guest that was changed.
struct Outcome {
  std::optional<HostdevChange> live;    // the running guest
  std::optional<HostdevChange> config;  // the persistent definition, or the file
};

const char* json_name(HostdevChange change) {
  switch (change) {
    case HostdevChange::added: return "added";
    case HostdevChange::already_present: return "already-present";
    case HostdevChange::removed: return "removed";
    case HostdevChange::not_present: return "not-present";
    case HostdevChange::owned_by_user: return "owned-by-user";
    case HostdevChange::removal_requested: return "removal-requested";
  }
  return "unknown";
}

std::string describe(HostdevChange change, host::DryRun dry_run);

// What a run tells a person as it goes, or, with --json, one document at
// the end (docs/json.md).
class Report {
 public:
  Report(Context& context, const AttachOptions& options, Operation op)
      : m_context(context), m_options(options) {
    m_doc = {{"schema", 1},
             {"command", op == Operation::attach ? "attach" : "detach"},
             {"guest", options.guest},
             {"target", options.xml_file.empty() ? "libvirt" : "file"},
             {"dry_run", options.dry_run},
             {"devices", nlohmann::json::array()},
             {"notes", nlohmann::json::array()},
             {"diffs", nlohmann::json::array()}};
  }
  void note(const std::string& text) {
    if (json()) m_doc["notes"].push_back(text);
    else *m_context.out << "note: " << text << "\n";
  }
  void diff(const std::string& label, const std::string& text) {
    if (json()) m_doc["diffs"].push_back({{"label", label}, {"diff", text}});
    else *m_context.out << text;
  }
  void line(const std::string& text) {
    if (!json()) *m_context.out << text << "\n";
  }
  // `GUEST: ADDR: added`, naming the parts when the running guest is one of them.
  void outcome(const Item& item, const Outcome& outcome, host::DryRun dry_run) {
    if (json()) {
      nlohmann::json entry = {{"address", item.address.to_string()},
                              {"completes_group", nullptr},
                              {"live", nullptr},
                              {"config", nullptr}};
      if (item.completes_group) entry["completes_group"] = *item.completes_group;
      if (outcome.live) entry["live"] = json_name(*outcome.live);
      if (outcome.config) entry["config"] = json_name(*outcome.config);
      m_doc["devices"].push_back(std::move(entry));
      return;
    }
    std::string text;
    if (outcome.live && outcome.config && *outcome.live == *outcome.config) {
      text = describe(*outcome.live, dry_run) + " (running guest and persistent definition)";
    } else if (outcome.live) {
      text = "running guest: " + describe(*outcome.live, dry_run);
      if (outcome.config) text += "; persistent definition: " + describe(*outcome.config, dry_run);
    } else if (outcome.config) {
      text = describe(*outcome.config, dry_run);
    }
    if (item.completes_group) {
      text += " (completes IOMMU group " + std::to_string(*item.completes_group) + ")";
    }
    *m_context.out << m_options.guest << ": " << item.address.to_string() << ": " << text << "\n";
    m_context.out->flush();
  }
  void finish() {
    if (json()) *m_context.out << core::dump_json(m_doc);
  }

 private:
  [[nodiscard]] bool json() const { return m_context.options.json; }
  Context& m_context;
  const AttachOptions& m_options;
  nlohmann::json m_doc;
};

// The devices named, plus the members --whole-groups adds, after the
// planner's checks (existence, bridges, IOMMU groups, host use): the same
// refusals as `plan` and `bringup`, with every problem at once.
std::vector<Item> checked_devices(Context& context, const AttachOptions& options,
                                  Report& report) {
  core::AssignmentRequest request;
  request.technique = core::PassthroughTechnique::specific;
  request.specific_guest = options.guest;
  request.guests = {options.guest};
  const std::vector<core::PciAddress> addresses = resolve_devices(context, options.devices);
  for (const core::PciAddress& address : addresses) {
    core::RequestedDevice device;
    device.address = address;
    request.devices.push_back(device);
  }
  request.force = options.force ? core::Force::yes : core::Force::no;
  request.completion = options.whole_groups ? core::GroupCompletion::add_members
                                            : core::GroupCompletion::refuse_incomplete;
  const LoadedInventory loaded = load_inventory(context, DeviceScope::groups_of(addresses));
  const core::Assignment plan = core::plan_assignment(loaded.inventory, request).value_or_throw();
  for (const std::string& note : plan.notes) report.note(note);
  std::vector<Item> items;
  if (const core::GuestAssignment* mine = plan.find(options.guest)) {
    for (const core::AssignedDevice& device : mine->devices) {
      items.push_back({device.address, device.added_for_group
                                           ? std::optional<unsigned>(device.iommu_group)
                                           : std::nullopt});
    }
  }
  return items;
}

std::vector<Item> named_devices(Context& context, const AttachOptions& options) {
  std::vector<Item> items;
  for (const core::PciAddress& address : resolve_devices(context, options.devices)) {
    items.push_back({address, std::nullopt});
  }
  return items;
}

std::string describe(HostdevChange change, host::DryRun dry_run) {
  const bool dry = dry_run == host::DryRun::yes;
  switch (change) {
    case HostdevChange::added: return dry ? "would be added" : "added";
    case HostdevChange::already_present: return "already present";
    case HostdevChange::removed: return dry ? "would be removed" : "removed";
    case HostdevChange::not_present: return "not present";
    case HostdevChange::owned_by_user: return "left alone: written by the user, not by pcipass";
    case HostdevChange::removal_requested:
      return "removal requested, but the guest still has it";
  }
  return "unknown";
}

core::Result<HostdevChange> change_document(core::DomainXml& xml, Operation op,
                                            const core::PciAddress& address) {
  if (op == Operation::attach) return xml.add_hostdev(address, hostdev_template());
  return xml.remove_hostdev(address);
}

void print_warnings(Context& context, Operation op, const core::DomainXml& guest,
                    const std::string& uri) {
  if (op != Operation::attach) return;
  for (const std::string& line : guest_warnings(context, guest, uri)) warn(context, line);
}

void run_on_file(Context& context, const AttachOptions& options, Operation op,
                 const std::vector<Item>& items, Report& report) {
  const host::DryRun dry_run = options.dry_run ? host::DryRun::yes : host::DryRun::no;
  std::vector<Outcome> outcomes;
  const auto edit = [&](core::DomainXml& xml) -> core::Status {
    // A file of another guest is a slip of the fingers, not a request.
    if (xml.name() != options.guest) {
      return core::fail("the file defines domain " + core::quote_for_message(xml.name()) +
                            ", not " + core::quote_for_message(options.guest),
                        ExitCode::usage);
    }
    print_warnings(context, op, xml, context.options.connect);
    for (const Item& item : items) {
      auto change = change_document(xml, op, item.address);
      if (!change) return core::fail(change.error());
      outcomes.push_back({std::nullopt, *change});
    }
    return core::ok();
  };
  const host::DomainFileEdit edited =
      host::edit_domain_file(options.xml_file, edit, dry_run).value_or_throw();
  if (options.dry_run) {
    report.diff(options.xml_file,
                core::unified_diff(edited.before, edited.after, options.xml_file));
  }
  for (std::size_t i = 0; i < items.size(); ++i) report.outcome(items[i], outcomes[i], dry_run);
  if (!options.dry_run && edited.changed()) {
    report.line("wrote " + options.xml_file + " (previous content in " + options.xml_file +
                host::k_backup_suffix + ")");
  }
}

// --dry-run on a libvirt domain: the same edits on the XML libvirt gives,
// shown as a diff per part; nothing is sent back.
void preview_domain(const AttachOptions& options, Operation op, const std::vector<Item>& items,
                    host::DomainParts& parts, Report& report) {
  std::vector<Outcome> outcomes(items.size());
  const auto preview = [&](core::DomainXml& xml, const std::string& label,
                           std::optional<HostdevChange> Outcome::*part) {
    const std::string before = xml.to_string();
    for (std::size_t i = 0; i < items.size(); ++i) {
      outcomes[i].*part = change_document(xml, op, items[i].address).value_or_throw();
    }
    report.diff(label, core::unified_diff(before, xml.to_string(), label));
  };
  if (parts.live) preview(*parts.live, options.guest + " (running guest)", &Outcome::live);
  if (parts.config) {
    preview(*parts.config, options.guest + " (persistent definition)", &Outcome::config);
  }
  for (std::size_t i = 0; i < items.size(); ++i)
    report.outcome(items[i], outcomes[i], host::DryRun::yes);
}

// Returns the devices a running guest was asked to let go of and still
// holds (detach --live).
std::vector<core::PciAddress> run_on_domain(Context& context, const AttachOptions& options,
                                            Operation op, const std::vector<Item>& items,
                                            Report& report) {
  // A preview only reads, so it works for users without write access.
  auto connection =
      (options.dry_run ? context.open_libvirt : context.open_libvirt_rw)(context.options.connect)
          .value_or_throw();
  const host::AttachScope scope =
      options.live ? host::AttachScope::live : host::AttachScope::config;
  // Read first: an unknown domain or a wrong scope fails before any change.
  host::DomainParts parts =
      host::read_domain_parts(connection, options.guest, scope).value_or_throw();
  print_warnings(context, op, parts.config ? *parts.config : *parts.live, connection.uri());
  if (op == Operation::attach) {
    std::vector<std::pair<core::PciAddress, std::string>> wanted;
    for (const Item& item : items) wanted.emplace_back(item.address, options.guest);
    check_holders(context, connection, wanted, options.force, "refusing to attach");
  }
  if (options.dry_run) {
    preview_domain(options, op, items, parts, report);
    return {};
  }
  bool redefined = false;
  std::vector<core::PciAddress> still_held;
  for (const Item& item : items) {
    const host::HostdevResult result =
        (op == Operation::attach ? host::attach_hostdev : host::detach_hostdev)(
            connection, options.guest, item.address, hostdev_template(), scope)
            .value_or_throw();
    Outcome outcome;
    if (parts.live) outcome.live = result.live;
    if (parts.config) outcome.config = result.config;
    report.outcome(item, outcome, host::DryRun::no);
    redefined = redefined || result.used_define_fallback;
    if (result.live == HostdevChange::removal_requested) still_held.push_back(item.address);
  }
  if (redefined) {
    report.note(connection.uri() +
                " cannot attach or detach devices of a defined domain; pcipass redefined " +
                core::quote_for_message(options.guest) + " with the edited XML");
  }
  return still_held;
}

int run(Context& context, const AttachOptions& options, Operation op) {
  Report report(context, options, op);
  const std::vector<Item> items = op == Operation::attach
                                      ? checked_devices(context, options, report)
                                      : named_devices(context, options);
  std::vector<core::PciAddress> still_held;
  if (options.xml_file.empty()) {
    still_held = run_on_domain(context, options, op, items, report);
  } else {
    run_on_file(context, options, op, items, report);
  }
  report.finish();
  if (!still_held.empty()) {
    // Not done: the device is the guest's until its OS lets go (PCIe
    // hot-unplug) or the guest stops. Releasing it now would pull it from
    // under the guest, so a script must stop here.
    std::vector<std::string> names;
    for (const core::PciAddress& address : still_held) names.push_back(address.to_string());
    throw core::Failure("the running guest " + core::quote_for_message(options.guest) +
                            " still has " + core::join(names, ", ") +
                            ": libvirt asked it to let go, and its OS has not (yet); the device "
                            "stays the guest's until it does or the guest stops, so do not "
                            "release it before",
                        ExitCode::host_error);
  }
  return static_cast<int>(ExitCode::ok);
}

CLI::App* add_common(CLI::App& app, const char* name, const char* description,
                     AttachOptions& options) {
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->add_option("GUEST", options.guest,
                  "The libvirt domain (or, with --xml, the domain the file defines)")
      ->required();
  cmd->add_option("DEV", options.devices, "Devices: addresses (0000:2d:00.0 or 2d:00.0), pci_0000_2d_00_0, serial:SERIAL, /dev/nvme1n1, nvme1 or an interface name")->required();
  CLI::Option* live = cmd->add_flag(
      "--live", options.live,
      "Change the running guest (and its persistent definition when it has one) instead of only "
      "the definition");
  cmd->add_option(
         "--xml", options.xml_file,
         "Edit this domain XML file (atomically, keeping FILE.pcipass-backup) instead of a "
         "libvirt domain")
      ->type_name("FILE")
      ->excludes(live);
  cmd->add_flag("--dry-run", options.dry_run,
                "Print a unified diff of the XML and what would happen; change nothing");
  return cmd;
}

}  // namespace

void register_attach(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<AttachOptions>();
  CLI::App* cmd = add_common(
      app, "attach",
      "Give PCI devices to a guest: add pcipass's <hostdev> elements to a libvirt domain or a "
      "domain XML file, after the planner's IOMMU-group and host-use checks",
      *options);
  cmd->add_flag("--whole-groups", options->whole_groups,
                "Also attach the other members of the devices' IOMMU groups (else an incomplete "
                "group is refused)");
  cmd->add_flag("--force", options->force,
                "Also attach devices the host uses (its root disk, its network, ...) or another "
                "guest holds");
  cmd->callback(
      [&context, &exit_code, options] { exit_code = run(context, *options, Operation::attach); });
}

void register_detach(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<AttachOptions>();
  CLI::App* cmd = add_common(
      app, "detach",
      "Take PCI devices from a guest: remove the <hostdev> elements pcipass added (those a user "
      "wrote stay)",
      *options);
  cmd->callback(
      [&context, &exit_code, options] { exit_code = run(context, *options, Operation::detach); });
}

}  // namespace pcipass::cli
