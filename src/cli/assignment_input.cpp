#include "assignment_input.hpp"
#include "host_prep.hpp"

#include <pcipass/core/dot_config.hpp>
#include <pcipass/core/kconfig_numbers.hpp>
#include <pcipass/core/kconfig_writer.hpp>
#include <pcipass/core/nodes_yaml.hpp>
#include <pcipass/core/text.hpp>

#include <filesystem>
#include <optional>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;
using core::PassthroughTechnique;

namespace {

PassthroughTechnique parse_technique(const std::string& text) {
  for (PassthroughTechnique t : {PassthroughTechnique::first, PassthroughTechnique::specific,
                                 PassthroughTechnique::each, PassthroughTechnique::roundrobin}) {
    if (text == core::to_string(t)) return t;
  }
  throw Failure("--technique " + core::quote_for_message(text) +
                    ": expected first, specific, each or roundrobin",
                ExitCode::usage);
}

std::vector<std::string> split_guests(const std::string& text) {
  std::vector<std::string> guests;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string guest = text.substr(start, comma - start);
    if (guest.empty())
      throw Failure("--guests " + core::quote_for_message(text) + ": an empty guest name",
                    ExitCode::usage);
    guests.push_back(std::move(guest));
    start = comma + 1;
  }
  return guests;
}

// DEV or DEV=GUEST from the command line; DEV is already resolved to `address`.
core::RequestedDevice parse_device_argument(const std::string& arg, const core::PciAddress& address) {
  core::RequestedDevice device;
  const std::size_t equals = arg.find('=');
  device.address = address;
  if (equals != std::string::npos) {
    device.target_guest = arg.substr(equals + 1);
    if (device.target_guest.empty())
      throw Failure(core::quote_for_message(arg) + ": no guest after '='", ExitCode::usage);
  }
  return device;
}

core::AssignmentRequest request_from_command_line(Context& context,
                                                  const AssignmentOptions& options) {
  core::AssignmentRequest request;
  bool targets = false;
  std::vector<std::string> names;
  for (const std::string& arg : options.devices) names.push_back(arg.substr(0, arg.find('=')));
  const std::vector<core::PciAddress> addresses = resolve_devices(context, names);
  for (std::size_t i = 0; i < options.devices.size(); ++i) {
    const std::string& arg = options.devices[i];
    request.devices.push_back(parse_device_argument(arg, addresses[i]));
    targets = targets || !request.devices.back().target_guest.empty();
  }
  if (!options.technique.empty()) {
    request.technique = parse_technique(options.technique);
  } else if (targets) {
    request.technique = PassthroughTechnique::each;
  } else if (!options.guest.empty()) {
    request.technique = PassthroughTechnique::specific;
  }
  if (targets && request.technique != PassthroughTechnique::each)
    throw Failure("DEV=GUEST names a guest per device: that is technique each, not " +
                      std::string(core::to_string(request.technique)),
                  ExitCode::usage);
  if (!options.guest.empty() && request.technique != PassthroughTechnique::specific)
    throw Failure("--guest names the one guest of technique specific", ExitCode::usage);
  request.specific_guest = options.guest;
  return request;
}

// Refuses a .config that selects a number the generated file beside it
// (or --generated FILE) no longer gives the same device: the devices moved,
// went or changed since the .config was made, and make olddefconfig would
// re-point or drop the selection without a word.
void check_numbers(Context& context, const AssignmentOptions& options,
                   const core::PassthroughChoices& choices) {
  std::string path = options.generated;
  if (path.empty()) {
    if (options.config == "-") return;
    path = (std::filesystem::path(options.config).parent_path() / core::k_generated_kconfig_name)
               .string();
  }
  const std::optional<std::string> text =
      read_optional_input(context, path, !options.generated.empty());
  if (!text) return;
  const core::NumberLedger ledger = core::read_number_ledger(*text, path).value_or_throw();
  if (ledger.empty()) return;  // kdevops' empty placeholder: nothing to hold against
  const auto stale = core::stale_selections(choices, ledger, path);
  if (stale.empty()) return;
  std::string message = options.config + ": " + stale.front().message;
  if (stale.size() > 1) message += " (and " + std::to_string(stale.size() - 1) + " more)";
  throw Failure(message + "; run make menuconfig (or pcipass kconfig) and choose again",
                ExitCode::bad_input);
}

}  // namespace

void add_assignment_options(CLI::App* cmd, AssignmentOptions& options) {
  CLI::Option* config = cmd->add_option(
      "--config", options.config,
      "Devices, technique and guests chosen in a kdevops .config FILE ('-': stdin)");
  CLI::Option* generated = cmd->add_option(
      "--generated", options.generated,
      "The generated Kconfig FILE the --config was made with: a .config whose numbers it no "
      "longer gives the same devices is refused (default: " +
          std::string(core::k_generated_kconfig_name) + " beside the .config, when there is one)");
  CLI::Option* nodes = cmd->add_option(
      "--nodes", options.nodes,
      "The guests of a kdevops nodes FILE (kdevops_nodes.yaml); without --config and DEV, also "
      "their pcipassthrough: entries");
  CLI::Option* guests =
      cmd->add_option("--guests", options.guests, "The guests, in order: NAME,NAME,...");
  CLI::Option* devices = cmd->add_option(
      "DEV", options.devices,
      "Devices to assign (0000:2d:00.0, serial:SERIAL, /dev/nvme1n1, enp5s0, ...), or "
      "DEV=GUEST to name each one's guest");
  CLI::Option* technique = cmd->add_option(
      "--technique", options.technique,
      "How DEV... are spread: first (all to the first guest), specific (all to --guest), each "
      "(DEV=GUEST), roundrobin (IOMMU group by group over the guests)");
  CLI::Option* guest = cmd->add_option("--guest", options.guest, "The guest of technique specific");
  cmd->add_flag("--whole-groups", options.whole_groups,
                "Add the missing endpoints of a device's IOMMU group to the same guest instead "
                "of refusing");
  cmd->add_flag("--force", options.force,
                "Also assign devices the host uses (its root disk, its network, ...) or another "
                "guest holds");
  cmd->add_flag("--follow-moved", options.follow_moved,
                "A selected device whose serials are now found at another address (moved by a "
                "renumbering or a new card) is taken there, with a note; without it that is "
                "refused");
  config->type_name("FILE")->excludes(devices)->excludes(technique)->excludes(guest);
  generated->type_name("FILE")->needs(config);
  nodes->type_name("FILE")->excludes(guests);
  guests->type_name("NAME,...");
  technique->type_name("NAME");
  guest->type_name("NAME");
}

AssignmentInput read_assignment_input(Context& context, const AssignmentOptions& options) {
  if (options.config.empty() && options.nodes.empty() && options.devices.empty())
    throw Failure("nothing to plan: give --config FILE, --nodes FILE or devices (DEV...)",
                  ExitCode::usage);

  std::vector<core::GuestNode> nodes;
  if (!options.nodes.empty()) {
    const std::string text = context.read_input(options.nodes).value_or_throw();
    auto parsed = core::parse_nodes_yaml(text);
    if (!parsed) throw Failure(parsed.error().with_context(options.nodes));
    nodes = std::move(*parsed);
  }

  AssignmentInput input;
  core::AssignmentRequest& request = input.request;
  if (!options.config.empty()) {
    const std::string text = context.read_input(options.config).value_or_throw();
    const core::DotConfig config = core::DotConfig::parse(text, options.config).value_or_throw();
    const core::PassthroughChoices choices =
        core::read_passthrough_choices(config).value_or_throw();
    check_numbers(context, options, choices);
    input.enabled = choices.enabled;
    request = core::request_from_config(choices);
  } else if (!options.devices.empty()) {
    request = request_from_command_line(context, options);
  } else {
    request = core::request_from_nodes(nodes);
  }
  if (!options.nodes.empty()) request.guests = core::guest_names(nodes);
  if (!options.guests.empty()) request.guests = split_guests(options.guests);
  request.force = options.force ? core::Force::yes : core::Force::no;
  request.completion = options.whole_groups ? core::GroupCompletion::add_members
                                            : core::GroupCompletion::refuse_incomplete;
  request.follow_moved = options.follow_moved ? core::FollowMoved::yes : core::FollowMoved::no;
  return input;
}

DeviceScope AssignmentInput::scope() const {
  std::vector<core::PciAddress> named;
  if (enabled) {
    for (const core::RequestedDevice& device : request.devices) {
      // A device chosen by its serials may have moved: every device is read
      // so that it is found wherever it is now.
      if (device.expected_identity.has_serial()) return DeviceScope::all();
      named.push_back(device.address);
    }
  }
  return DeviceScope::groups_of(std::move(named));
}

PlannedAssignment plan_from_input(const AssignmentInput& input, const core::Inventory& inventory) {
  PlannedAssignment planned;
  planned.enabled = input.enabled;
  planned.technique = input.request.technique;
  if (!planned.enabled) return planned;
  planned.assignment = core::plan_assignment(inventory, input.request).value_or_throw();
  return planned;
}

nlohmann::json assignment_to_json(const PlannedAssignment& planned) {
  nlohmann::json doc = {{"schema", 1},
                        {"enabled", planned.enabled},
                        {"technique", core::to_string(planned.technique)},
                        {"guests", nlohmann::json::array()},
                        {"notes", planned.assignment.notes}};
  for (const core::GuestAssignment& guest : planned.assignment.guests) {
    nlohmann::json devices = nlohmann::json::array();
    for (const core::AssignedDevice& d : guest.devices) {
      devices.push_back(
          {{"address", d.address.to_string()},
           {"vendor_id", core::hex(d.ids.vendor, 4)},
           {"device_id", core::hex(d.ids.device, 4)},
           {"iommu_group", d.iommu_group},
           {"name", core::sanitize_untrusted(d.name)},
           {"label", d.label.empty() ? nlohmann::json(nullptr)
                                     : nlohmann::json(core::sanitize_untrusted(d.label))},
           {"identity", d.identity.to_json()},
           {"added_for_group", d.added_for_group},
           {"host_in_use", d.host_in_use}});
    }
    doc["guests"].push_back({{"name", guest.guest}, {"devices", std::move(devices)}});
  }
  return doc;
}

}  // namespace pcipass::cli
