#include <pcipass/core/assignment_planner.hpp>

#include <pcipass/core/human_name.hpp>

#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace pcipass::core {

namespace {

// A device that passed its own checks, with the guest it goes to.
struct Candidate {
  const PciDevice* device = nullptr;
  DeviceIds ids;
  std::string name;
  std::string guest;
  bool added_for_group = false;
  DeviceIdentity recorded = {};  // the serials it was chosen with
};

// The checks of one requested device on its own; the problem, or nothing.
std::optional<std::string> check_device(const PciDevice* device, const RequestedDevice& wanted) {
  const std::string label = wanted.address.to_string();
  if (device == nullptr) return label + ": no such PCI device on this host";
  const auto ids = DeviceIds::of(*device);
  if (wanted.expected && ids != wanted.expected) {
    return label + ": selected as " + wanted.expected->to_string() + ", but the device there is " +
           (ids ? ids->to_string() : std::string("of unknown ids")) +
           " now (renumbered bus after a hardware change?); select it again";
  }
  if (device->stays_with_platform()) {
    return label + ": is a " + std::string(device->is_bridge() ? "bridge" : "host bridge") +
           "; bridges and host bridges stay with the host";
  }
  if (!device->iommu_group) {
    return label + ": has no IOMMU group (the IOMMU is missing or disabled; see pcipass doctor)";
  }
  if (!ids) return label + ": vendor:device unknown, so it cannot be checked before use";
  return std::nullopt;
}

std::string join_addresses(const std::vector<PciAddress>& addresses) {
  std::vector<std::string> text;
  for (const PciAddress& a : addresses) text.push_back(a.to_string());
  return join(text, ", ");
}

// Where the requested device is now. A device with recorded serials is
// checked against the device at its address; when that one is another (a
// twin, or nothing) and the serials are found at one other address, it
// moved: with FollowMoved::yes `wanted` is re-pointed there and a note says
// so, else the problem names both. Returns the problem, or nothing.
std::optional<std::string> locate(const Inventory& inventory, RequestedDevice& wanted,
                                  FollowMoved follow, std::vector<std::string>& notes) {
  const DeviceIdentity& recorded = wanted.expected_identity;
  if (!recorded.has_serial()) return std::nullopt;
  const std::string label = wanted.address.to_string();
  const PciDevice* device = inventory.find(wanted.address);
  const DeviceIdentity now = device != nullptr ? identity_of(*device, inventory) : DeviceIdentity{};
  const IdentityMatch match = compare_identity(recorded, now);
  std::vector<PciAddress> found = find_by_identity(inventory, recorded, wanted.address);
  std::erase(found, wanted.address);
  if (match == IdentityMatch::same) {
    if (!found.empty()) {
      notes.push_back(label + ": its serials (" + recorded.serials() + ") also match " +
                      join_addresses(found) +
                      ": they cannot tell these devices apart; only its vendor:device is checked");
    }
    return std::nullopt;
  }
  if (match == IdentityMatch::unknown && device != nullptr && found.empty()) {
    notes.push_back(label + ": its serials cannot be checked now (selected: " + recorded.serials() +
                    "; it shows " + now.serials() +
                    (device->on_vfio() ? ", as devices on vfio-pci often do" : "") +
                    "); only its vendor:device is checked");
    return std::nullopt;
  }
  std::string problem =
      label + ": " +
      (device == nullptr ? std::string("no device there now")
       : match == IdentityMatch::different
           ? "not the device selected (" + identity_difference(recorded, now) +
                 "): an identical device took its address"
           : "not the device selected (it shows " + now.serials() + ")");
  if (found.size() == 1) {
    const std::string moved = "the selected device (" + recorded.serials() + ") moved from " +
                              label + " to " + found.front().to_string();
    if (follow == FollowMoved::yes) {
      notes.push_back(moved + "; using " + found.front().to_string() + " (--follow-moved)");
      wanted.address = found.front();
      return std::nullopt;
    }
    return problem + "; " + moved + " (--follow-moved takes it there)";
  }
  if (found.size() > 1) {
    return problem + "; the selected device's serials (" + recorded.serials() +
           ") are found at " + join_addresses(found) + ": select it again";
  }
  if (device == nullptr) return std::nullopt;  // check_device says it is gone
  return problem + "; the selected device (" + recorded.serials() +
         ") is not on this host now: select it again";
}

}  // namespace

bool is_valid_guest_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::vector<PciAddress> Assignment::all_devices() const {
  std::vector<PciAddress> out;
  for (const GuestAssignment& guest : guests)
    for (const AssignedDevice& device : guest.devices) out.push_back(device.address);
  std::sort(out.begin(), out.end());
  return out;
}

const GuestAssignment* Assignment::find(const std::string& guest) const {
  for (const GuestAssignment& assignment : guests)
    if (assignment.guest == guest) return &assignment;
  return nullptr;
}

Result<Assignment> plan_assignment(const Inventory& inventory, const AssignmentRequest& request) {
  Assignment plan;
  std::vector<std::string> problems;
  const std::set<std::string> known(request.guests.begin(), request.guests.end());

  for (const std::string& guest : request.guests) {
    if (!is_valid_guest_name(guest))
      problems.push_back("guest name " + quote_for_message(guest) +
                         " is not a guest name (letters, digits, '.', '_' and '-', at most 63)");
  }

  // The guest every device of a technique goes to, or the problem.
  std::string single_guest;
  switch (request.technique) {
    case PassthroughTechnique::first:
      if (request.guests.empty())
        problems.emplace_back(
            "technique first needs the list of guests (a nodes file or --guests)");
      else
        single_guest = request.guests.front();
      break;
    case PassthroughTechnique::specific:
      if (request.specific_guest.empty())
        problems.emplace_back("technique specific needs the name of its guest");
      single_guest = request.specific_guest;
      break;
    case PassthroughTechnique::roundrobin:
      if (request.guests.empty())
        problems.emplace_back(
            "technique roundrobin needs the list of guests (a nodes file or --guests)");
      break;
    case PassthroughTechnique::each: break;
  }

  // Each requested device on its own; then its guest. A device asked for
  // twice is one device, unless the two requests name different guests.
  std::map<PciAddress, Candidate> chosen;
  std::map<unsigned, std::string> group_guest;  // round-robin goes group by group
  std::size_t next_guest = 0;
  for (RequestedDevice wanted : request.devices) {
    if (auto problem = locate(inventory, wanted, request.follow_moved, plan.notes)) {
      problems.push_back(*problem);
      continue;
    }
    const PciDevice* device = inventory.find(wanted.address);
    if (auto problem = check_device(device, wanted)) {
      problems.push_back(*problem);
      continue;
    }
    const unsigned group = *device->iommu_group;
    if (wanted.expected_group && *wanted.expected_group != group) {
      plan.notes.push_back(wanted.address.to_string() + " was in IOMMU group " +
                           std::to_string(*wanted.expected_group) + " when selected; it is in " +
                           std::to_string(group) + " now");
    }
    std::string guest = single_guest;
    if (request.technique == PassthroughTechnique::each) {
      guest = wanted.target_guest;
      if (guest.empty()) {
        problems.push_back(wanted.address.to_string() + ": no target guest (technique each)");
        continue;
      }
    } else if (request.technique == PassthroughTechnique::roundrobin && !request.guests.empty()) {
      auto [it, fresh] = group_guest.emplace(group, "");
      if (fresh) it->second = request.guests[next_guest++ % request.guests.size()];
      guest = it->second;
    }
    if (!guest.empty() && !is_valid_guest_name(guest)) {
      if (!known.contains(guest))  // a bad name in the guest list is reported once, above
        problems.push_back(wanted.address.to_string() + ": guest name " + quote_for_message(guest) +
                           " is not a guest name (letters, digits, '.', '_' and '-', at most 63)");
      continue;
    }
    if (!known.empty() && !guest.empty() && !known.contains(guest)) {
      problems.push_back(wanted.address.to_string() + ": guest " + quote_for_message(guest) +
                         " is not one of the guests (" + join(request.guests, ", ") + ")");
      continue;
    }
    Candidate candidate{device, *DeviceIds::of(*device), wanted.name, guest, false,
                        wanted.expected_identity};
    auto [it, fresh] = chosen.emplace(wanted.address, candidate);
    if (!fresh && it->second.guest != guest) {
      problems.push_back(wanted.address.to_string() + ": asked for by guests " +
                         quote_for_message(it->second.guest) + " and " + quote_for_message(guest) +
                         "; a device goes to one guest only");
    }
  }

  // Whole IOMMU groups: every endpoint of a group goes to one guest.
  std::map<unsigned, std::vector<const Candidate*>> by_group;
  for (const auto& [address, candidate] : chosen)
    by_group[*candidate.device->iommu_group].push_back(&candidate);
  std::vector<Candidate> additions;
  for (const auto& [number, members] : by_group) {
    std::set<std::string> guests;
    for (const Candidate* member : members) guests.insert(member->guest);
    if (guests.size() > 1) {
      std::vector<std::string> parts;
      for (const Candidate* member : members)
        parts.push_back(member->device->address.to_string() + " to " +
                        quote_for_message(member->guest));
      problems.push_back("IOMMU group " + std::to_string(number) + " is split between guests (" +
                         join(parts, ", ") + "); a group goes to one guest");
      continue;
    }
    const IommuGroup* group = inventory.group(number);
    if (group == nullptr) continue;
    std::vector<std::string> missing;
    for (const PciAddress& member : group->members) {
      const PciDevice* other = inventory.find(member);
      if (other == nullptr || other->stays_with_platform() || chosen.contains(member)) continue;
      const std::string label =
          member.to_string() + (other->human_name.empty() ? "" : " (" + other->human_name + ")");
      if (request.completion == GroupCompletion::refuse_incomplete) {
        missing.push_back(label);
        continue;
      }
      const auto ids = DeviceIds::of(*other);
      if (!ids) {
        problems.push_back(member.to_string() + " (IOMMU group " + std::to_string(number) +
                           "): vendor:device unknown, so it cannot be checked before use");
        continue;
      }
      additions.push_back(Candidate{other, *ids, "", *guests.begin(), true});
      plan.notes.push_back("added " + label + " to " + quote_for_message(*guests.begin()) +
                           ": IOMMU group " + std::to_string(number) + " goes to a guest whole");
    }
    if (!missing.empty()) {
      problems.push_back("IOMMU group " + std::to_string(number) + " of " +
                         members.front()->device->address.to_string() + " also holds " +
                         join(missing, ", ") +
                         "; select every endpoint of the group, or use --whole-groups");
    }
  }
  for (Candidate& addition : additions)
    chosen.emplace(addition.device->address, std::move(addition));

  // The host's own devices, after the groups: an added member may be one.
  for (const auto& [address, candidate] : chosen) {
    if (!candidate.device->host_may_need()) continue;
    const std::string claim = candidate.device->host_claim();
    if (request.force == Force::no) {
      problems.push_back(address.to_string() + ": " + claim + " (--force assigns it anyway)");
    } else {
      plan.notes.push_back(candidate.device->host_claim_note() + "; assigning it anyway (--force)");
    }
  }

  // A PF's driver owns its VFs: unbinding it removes them, and a PF and its
  // VFs never go to two guests.
  for (const auto& [address, candidate] : chosen) {
    if (const std::string lost = vfs_lost_by_unbinding(*candidate.device); !lost.empty()) {
      problems.push_back(address.to_string() + ": " + lost);
      continue;
    }
    const auto& pf_address = candidate.device->physical_function;
    const auto pf = pf_address ? chosen.find(*pf_address) : chosen.end();
    if (pf != chosen.end() && pf->second.guest != candidate.guest &&
        vfs_lost_by_unbinding(*pf->second.device).empty()) {
      problems.push_back(address.to_string() + " goes to " + quote_for_message(candidate.guest) +
                         " while its physical function " + pf_address->to_string() + " goes to " +
                         quote_for_message(pf->second.guest) +
                         "; whoever has the PF controls its VFs: give them to one guest");
    }
  }

  if (!problems.empty()) {
    return fail("refusing to assign the devices:\n  " + join(problems, "\n  "), ExitCode::refused);
  }

  // Guests in the order of the guest list, then in order of first mention.
  std::vector<std::string> order = request.guests;
  for (const RequestedDevice& wanted : request.devices) {
    auto it = chosen.find(wanted.address);
    if (it != chosen.end() &&
        std::find(order.begin(), order.end(), it->second.guest) == order.end())
      order.push_back(it->second.guest);
  }
  std::vector<PciAddress> no_reset;  // one note for all of them
  for (const std::string& guest : order) {
    GuestAssignment assignment{guest, {}};
    for (const auto& [address, candidate] : chosen) {
      if (candidate.guest != guest) continue;
      AssignedDevice device;
      device.address = address;
      device.ids = candidate.ids;
      // What it shows, plus serials it was chosen with and hides now.
      device.identity = carried_identity(candidate.recorded, identity_of(*candidate.device, inventory));
      if (candidate.device->cannot_reset()) no_reset.push_back(address);
      device.iommu_group = *candidate.device->iommu_group;
      device.name =
          candidate.device->human_name.empty() ? candidate.name : candidate.device->human_name;
      device.label = candidate.name;
      device.kdevops_name = kdevops_device_name(*candidate.device);
      device.sdevice = candidate.device->subsystem_name.empty() ? candidate.device->device_name
                                                                : candidate.device->subsystem_name;
      device.added_for_group = candidate.added_for_group;
      device.host_in_use = candidate.device->host_may_need();
      assignment.devices.push_back(std::move(device));
    }
    if (!assignment.devices.empty()) plan.guests.push_back(std::move(assignment));
  }
  if (!no_reset.empty()) {
    plan.notes.push_back(join_addresses(no_reset) + (no_reset.size() == 1 ? " has " : " have ") +
                         k_no_reset_note);
  }
  return plan;
}

AssignmentRequest request_from_config(const PassthroughChoices& choices) {
  AssignmentRequest request;
  request.technique = choices.technique;
  request.specific_guest = choices.target_hostname;
  for (const SelectedDevice& selected : choices.devices) {
    RequestedDevice device;
    device.address = selected.address;
    if (selected.vendor_id && selected.device_id)
      device.expected = DeviceIds{*selected.vendor_id, *selected.device_id};
    device.expected_group = selected.iommu_group;
    device.expected_identity = selected.identity;
    device.name = selected.name;
    device.target_guest = selected.target_guest;
    request.devices.push_back(std::move(device));
  }
  return request;
}

AssignmentRequest request_from_nodes(const std::vector<GuestNode>& nodes) {
  AssignmentRequest request;
  request.technique = PassthroughTechnique::each;
  request.guests = guest_names(nodes);
  for (const GuestNode& node : nodes) {
    for (const NodePassthrough& entry : node.passthrough) {
      RequestedDevice device;
      device.address = entry.address;
      device.expected_identity = entry.identity;
      device.name = entry.name;
      device.target_guest = node.name;
      request.devices.push_back(std::move(device));
    }
  }
  return request;
}

std::vector<std::string> guest_names(const std::vector<GuestNode>& nodes) {
  std::vector<std::string> names;
  for (const GuestNode& node : nodes) names.push_back(node.name);
  return names;
}

}  // namespace pcipass::core
