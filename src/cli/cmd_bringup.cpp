// `pcipass bringup`: the hook of `make bringup`. Plans, checks every guest
// it will touch, prepares the host (vfio-pci) and puts the hostdevs into
// each guest's XML file or libvirt definition. Running it again changes
// nothing: bind skips devices already on vfio-pci, add_hostdev skips
// hostdevs already there.

#include "assignment_input.hpp"
#include "commands.hpp"
#include "guest_checks.hpp"
#include "guest_folder_checks.hpp"
#include "guest_memory.hpp"
#include "host_prep.hpp"
#include "remote_host.hpp"
#include "templates.hpp"

#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/text_diff.hpp>
#include <pcipass/host/domain_file.hpp>
#include <pcipass/host/libvirt_domain.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

namespace {

struct BringupOptions {
  AssignmentOptions assignment;
  std::string xml_dir;  // guest XML files; empty: libvirt domains
  bool no_bind = false;
  ChangeOptions change;
};

// One guest and where its definition lives.
struct GuestTarget {
  const core::GuestAssignment* assignment = nullptr;
  std::filesystem::path file;  // empty for a libvirt domain
  core::GuestDeviceRoute route;  // what kdevops' files attach, what pcipass adds
  std::string before;          // its XML now
  std::string after;           // with pcipass's hostdevs
};

// The guest's XML with pcipass's hostdevs: the devices no kdevops file
// attaches added, and pcipass's own hostdev of a device a kdevops file
// attaches taken out (kdevops' `virsh attach-device --config` fails on a
// device the definition holds already). One lines entry per device.
core::Status edit_guest(core::DomainXml& xml, const GuestTarget& target,
                        std::vector<std::string>* lines) {
  for (const core::PciAddress& address : target.route.by_pcipass) {
    auto change = xml.add_hostdev(address, hostdev_template());
    if (!change) return core::fail(change.error());
    if (lines) {
      lines->push_back(address.to_string() +
                       (*change == core::HostdevChange::added ? ": added" : ": already present"));
    }
  }
  for (const core::KdevopsDeviceFile& file : target.route.by_kdevops) {
    const std::string address = file.address.to_string();
    if (xml.remove_hostdev(file.address) == core::HostdevChange::owned_by_user) {
      return core::fail(target.file.string() + " holds a <hostdev> of " + address + " already, and " +
                            file.path + " attaches it again: kdevops' attach would fail; remove one",
                        ExitCode::refused);
    }
    if (lines) lines->push_back(address + ": kdevops attaches it from " + file.path);
  }
  return core::Ok{};
}

// The guests whose files (and definitions) bringup checks: the request's guests (a
// nodes file names every guest kdevops brings up), then any other guest of
// the plan.
std::vector<std::string> guests_to_check(const AssignmentInput& input,
                                         const PlannedAssignment& planned) {
  std::vector<std::string> names = input.request.guests;
  for (const core::GuestAssignment& guest : planned.assignment.guests) {
    if (std::find(names.begin(), names.end(), guest.guest) == names.end())
      names.push_back(guest.guest);
  }
  return names;
}

// Reads every guest and computes its new XML without changing anything, so
// that a missing or broken guest stops the run before the host is touched.
// Problems of all guests are reported together.
std::vector<GuestTarget> check_guests(
    Context& context, const BringupOptions& options, const core::Assignment& assignment,
    const std::map<std::string, core::GuestDeviceRoute>& routes,
    const host::LibvirtConnection* connection) {
  std::vector<GuestTarget> targets;
  std::vector<std::string> problems;
  ExitCode code = ExitCode::ok;
  const std::string uri = connection ? connection->uri() : context.options.connect;
  for (const core::GuestAssignment& guest : assignment.guests) {
    GuestTarget target{&guest, {}, {}, {}, {}};
    if (auto route = routes.find(guest.guest); route != routes.end()) {
      target.route = route->second;
    } else {
      for (const core::AssignedDevice& device : guest.devices)
        target.route.by_pcipass.push_back(device.address);
    }
    std::optional<core::DomainXml> xml;
    core::Status status = core::Ok{};
    if (!options.xml_dir.empty()) {
      target.file = guest_file(options.xml_dir, guest.guest);
      auto edit = host::edit_domain_file(
          target.file, [&](core::DomainXml& doc) { return edit_guest(doc, target, nullptr); },
          host::DryRun::yes);
      if (edit) {
        target.before = edit->before;
        target.after = edit->after;
        auto parsed = core::DomainXml::parse(target.before);
        if (parsed) xml.emplace(std::move(*parsed));
      } else {
        status = core::fail(edit.error());
      }
    } else {
      auto parts = host::read_domain_parts(*connection, guest.guest, host::AttachScope::config);
      if (parts && parts->config) {
        target.before = parts->config->to_string();
        status = edit_guest(*parts->config, target, nullptr);
        target.after = parts->config->to_string();
        xml.emplace(std::move(*parts->config));
      } else if (!parts) {
        status = core::fail(parts.error());
      }
    }
    if (!status) {
      problems.push_back(status.error().message);
      if (code == ExitCode::ok) code = status.error().code;
      continue;
    }
    if (xml) {
      for (const std::string& line : guest_warnings(context, *xml, uri))
        warn(context, guest.guest + ": " + line);
    }
    targets.push_back(std::move(target));
  }
  if (!problems.empty()) {
    std::string message = "cannot bring up the guests:";
    for (const std::string& line : problems) message += "\n  " + line;
    throw Failure(message, code);
  }
  return targets;
}

// Binds every planned device to vfio-pci (journaled, under the lock held by
// the caller). With --json, execute_plan's document goes to `document`.
// Binds the assigned devices: on this machine through sysfs, or on the host
// `remote` names through its libvirt.
void prepare_host(Context& context, const BringupOptions& options,
                  const core::Inventory& inventory, const core::Assignment& assignment,
                  const RemoteHost* remote, nlohmann::json* document) {
  host::Journal journal = load_host_journal(context, remote);
  core::BindRequest request;
  request.devices = assignment.all_devices();
  request.force = options.assignment.force ? core::Force::yes : core::Force::no;
  // The planner has completed or refused incomplete groups already.
  request.expansion = core::GroupExpansion::named_only;
  // libvirt loads vfio-pci on its host itself.
  const core::VfioModule vfio = remote ? core::VfioModule::loaded : vfio_module(context);
  core::Plan plan = core::plan_bind(inventory, request, journal.state(), vfio).value_or_throw();
  if (remote) make_through_libvirt(plan, remote->uri);
  execute_plan(context, plan, journal, options.change,
               {.command = "bringup",
                .document = document,
                .node_devices = remote ? remote->devices.get() : nullptr});
}

// Puts the hostdevs into one guest; returns one line per device.
std::vector<std::string> inject(const BringupOptions& options, GuestTarget& target,
                                const host::LibvirtConnection* connection) {
  std::vector<std::string> lines;
  const core::GuestAssignment& guest = *target.assignment;
  if (!target.file.empty()) {
    auto edit = host::edit_domain_file(
        target.file,
        [&](core::DomainXml& doc) { return edit_guest(doc, target, &lines); },
        options.change.dry_run ? host::DryRun::yes : host::DryRun::no);
    if (!edit) throw Failure(edit.error());
    target.before = edit->before;
    target.after = edit->after;
    return lines;
  }
  std::vector<core::PciAddress> addresses;
  for (const core::AssignedDevice& device : guest.devices) addresses.push_back(device.address);
  const auto results = host::attach_hostdevs(*connection, guest.guest, addresses,
                                             hostdev_template(), host::AttachScope::config)
                           .value_or_throw();
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    lines.push_back(addresses[i].to_string() + (results[i].config == core::HostdevChange::added
                                                    ? ": added"
                                                    : ": already present"));
  }
  return lines;
}

int run_bringup(Context& context, const BringupOptions& options) {
  const bool json = context.options.json;
  const AssignmentInput input = read_assignment_input(context, options.assignment);
  // -c of another host: the devices are bound there, through its libvirt.
  const std::optional<RemoteHost> remote =
      !input.enabled || options.no_bind
          ? std::nullopt
          : open_remote_host(context, change_access(options.change.dry_run));
  const core::Inventory inventory =
      !input.enabled    ? core::Inventory{}
      : options.no_bind ? load_inventory(context, input.scope()).inventory
      : remote          ? load_remote_inventory(context, *remote)
                        : load_sysfs_inventory(context, input.scope());
  const PlannedAssignment planned = plan_from_input(input, inventory);
  std::ostream& out = *context.out;
  nlohmann::json doc = assignment_to_json(planned);
  doc["dry_run"] = options.change.dry_run;
  doc["error"] = nullptr;
  // With --xml-dir: kdevops' per-device files and pcipass's own hostdevs
  // in the files; with -c too, the guests defined there already.
  std::map<std::string, core::GuestDeviceRoute> routes;
  std::optional<host::LibvirtConnection> defining;
  if (!options.xml_dir.empty()) {
    const std::vector<std::string> guests = guests_to_check(input, planned);
    routes = check_guest_folder(context, options.xml_dir, guests, planned.assignment);
    if (!context.options.connect.empty()) {
      defining.emplace(context.open_libvirt(context.options.connect).value_or_throw());
      check_defined_guests(*defining, guests, planned.assignment);
    }
  }
  if (!planned.enabled || planned.assignment.guests.empty()) {
    if (json) {
      out << core::dump_json(doc);
    } else {
      out << (planned.enabled ? "no device to assign: nothing to bring up\n"
                              : "PCI-E passthrough is not enabled: nothing to bring up\n");
    }
    return 0;
  }

  std::optional<host::LibvirtConnection> connection;
  if (options.xml_dir.empty()) {
    connection.emplace((options.change.dry_run ? context.open_libvirt
                                               : context.open_libvirt_rw)(context.options.connect)
                           .value_or_throw());
    // The default URI (no -c) may name another host too: the guests must be
    // on the machine whose devices are bound.
    if (!options.no_bind && !remote) refuse_foreign_connection(context, connection->uri());
  }
  std::vector<GuestTarget> targets =
      check_guests(context, options, planned.assignment, routes,
                   connection ? &*connection : nullptr);
  // Another guest holding a device: the guests' libvirt (with --xml-dir,
  // only when -c names it: the files may be for guests not defined yet).
  if (connection) {
    check_holders(context, *connection, device_guests(planned.assignment),
                  options.assignment.force, "refusing to bring up the guests");
  } else if (defining) {
    if (!options.no_bind && !remote) refuse_foreign_connection(context, defining->uri());
    check_holders(context, *defining, device_guests(planned.assignment), options.assignment.force,
                  "refusing to bring up the guests");
  }

  const auto lock = lock_state(context, options.change);
  if (!json) {
    for (const std::string& note : planned.assignment.notes) out << "note: " << note << "\n";
  }
  // From here on the host and the guests change: with --json a failure
  // still prints the document, with what was done and the error.
  nlohmann::json guests = nlohmann::json::array();
  try {
    if (!options.no_bind) {
      if (!json) out << "preparing the host:\n";
      prepare_host(context, options, inventory, planned.assignment, remote ? &*remote : nullptr,
                   json ? &doc["host"] : nullptr);
    }
    for (GuestTarget& target : targets) {
      const std::string& name = target.assignment->guest;
      const std::string where = target.file.empty() ? "domain " + name : target.file.string();
      std::vector<std::string> lines;
      if (options.change.dry_run) {
        for (const core::PciAddress& address : target.route.by_pcipass)
          lines.push_back(address.to_string());
      } else {
        lines = inject(options, target, connection ? &*connection : nullptr);
      }
      const std::string diff = core::unified_diff(target.before, target.after, where);
      if (json) {
        nlohmann::json attached = nlohmann::json::array();
        for (const core::KdevopsDeviceFile& file : target.route.by_kdevops)
          attached.push_back({{"address", file.address.to_string()}, {"path", file.path}});
        guests.push_back({{"name", name},
                          {"target", target.file.empty() ? "libvirt" : "file"},
                          {"path", target.file.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(target.file.string())},
                          {"changed", !diff.empty()},
                          {"diff", diff},
                          {"kdevops_files", std::move(attached)}});
        continue;
      }
      out << "guest " << name << " (" << where << "): "
          << (diff.empty()             ? "already up to date"
              : options.change.dry_run ? "would change"
                                       : "updated")
          << "\n";
      if (!options.change.dry_run) {
        for (const std::string& line : lines) out << "  " << line << "\n";
      } else {
        for (const core::KdevopsDeviceFile& file : target.route.by_kdevops)
          out << "  " << file.address.to_string() << ": kdevops attaches it from " << file.path
              << "\n";
        out << diff;
      }
    }
  } catch (const Failure& failure) {
    if (json) {
      doc["guest_changes"] = std::move(guests);
      doc["error"] = failure.error().message;
      out << core::dump_json(doc);
    }
    throw;
  }
  if (json) {
    doc["guest_changes"] = std::move(guests);
    out << core::dump_json(doc);
  }
  return 0;
}

}  // namespace

void register_bringup(CLI::App& app, Context& context, int& exit_code) {
  auto options = std::make_shared<BringupOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bringup",
      "The make bringup hook: plan, bind the devices to vfio-pci, and add their <hostdev> to "
      "each guest's XML file (--xml-dir) or libvirt definition");
  add_assignment_options(cmd, options->assignment);
  cmd->add_option("--xml-dir", options->xml_dir,
                  "Guests are XML files DIR/NAME/NAME.xml (kdevops' guestfs layout) or "
                  "DIR/NAME.xml, edited before they are defined; kdevops' per-device files "
                  "DIR/NAME/pcie_passthrough_*.xml are checked against the plan and their devices "
                  "left to kdevops' attach step; without it, domains already defined in libvirt "
                  "(-c URI)")
      ->type_name("DIR");
  cmd->add_flag("--no-bind", options->no_bind,
                "Leave the host's drivers alone: only edit the guests (libvirt's managed='yes' "
                "then detaches the devices when a privileged guest starts)");
  cmd->add_flag("--dry-run", options->change.dry_run,
                "Print every write and a diff per guest, and change nothing");
  cmd->add_flag("--no-wait", options->change.no_wait,
                "Fail at once (exit code 6) when another pcipass run holds the state lock");
  cmd->callback([&context, &exit_code, options] { exit_code = run_bringup(context, *options); });
}

}  // namespace pcipass::cli
