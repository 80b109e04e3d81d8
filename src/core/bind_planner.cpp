#include <pcipass/core/bind_planner.hpp>

#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <set>

namespace pcipass::core {

namespace {

// Kernel driver names: letters, digits and _ . + - (nvme, vfio-pci, snd_hda_intel).
bool is_kernel_driver_name(std::string_view name) {
  return name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '+' || c == '-';
         });
}

// The journal's bind entries of `devices`, each once; a device the journal
// does not hold adds a line to `problems`.
std::vector<const JournalEntry*> named_bind_entries(const std::vector<PciAddress>& devices,
                                                    const JournalState& journal,
                                                    std::vector<std::string>& problems) {
  std::vector<const JournalEntry*> entries;
  std::set<PciAddress> seen;
  for (const PciAddress& address : devices) {
    if (!seen.insert(address).second) continue;
    if (const JournalEntry* entry = journal.bind_entry(address)) {
      entries.push_back(entry);
    } else {
      problems.push_back(address.to_string() +
                         ": not bound by pcipass (the journal has no record of it)");
    }
  }
  return entries;
}

Unexpected refusal(const char* verb, const std::vector<std::string>& problems) {
  return fail(std::string("refusing to ") + verb + ":\n  " + join(problems, "\n  "),
              ExitCode::refused);
}

}  // namespace

Result<Plan> plan_bind(const Inventory& inventory, const BindRequest& request,
                       const JournalState& journal, VfioModule vfio) {
  Plan plan;
  std::vector<std::string> problems;

  // The named devices, then the rest of their groups; each with why it is in.
  std::set<PciAddress> named(request.devices.begin(), request.devices.end());
  std::map<PciAddress, std::string> chosen;  // address -> "" (named) or "added with X"
  for (const PciAddress& address : named) {
    const PciDevice* device = inventory.find(address);
    if (device == nullptr) {
      problems.push_back(address.to_string() + ": no such PCI device on this host");
      continue;
    }
    if (device->stays_with_platform()) {
      problems.push_back(address.to_string() + ": is a " +
                         std::string(device->is_bridge() ? "bridge" : "host bridge") +
                         "; bridges and host bridges stay with the host");
      continue;
    }
    if (!device->iommu_group) {
      problems.push_back(
          address.to_string() +
          ": has no IOMMU group (the IOMMU is missing or disabled; see pcipass groups)");
      continue;
    }
    chosen.emplace(address, "");
    if (request.expansion != GroupExpansion::whole_groups) continue;
    const IommuGroup* group = inventory.group(*device->iommu_group);
    if (group == nullptr) continue;
    for (const PciAddress& member : group->members) {
      const PciDevice* other = inventory.find(member);
      if (other == nullptr || other->stays_with_platform() || named.contains(member) ||
          chosen.contains(member)) {
        continue;
      }
      chosen.emplace(member, "IOMMU group " + std::to_string(group->number) + ", added with " +
                                 address.to_string());
    }
  }

  std::vector<BindToVfio> binds;
  for (const auto& [address, added] : chosen) {
    const PciDevice& device = *inventory.find(address);
    const std::string label =
        added.empty() ? address.to_string() : address.to_string() + " (" + added + ")";
    const auto ids = DeviceIds::of(device);
    if (!ids) {
      problems.push_back(label + ": vendor:device unknown, so it cannot be checked before binding");
      continue;
    }
    if (!device.driver.empty() && !is_kernel_driver_name(device.driver)) {
      // Its unbind file cannot be named safely, and a dry run and a real run
      // would read the link differently.
      problems.push_back(label + ": its driver is named " + quote_for_message(device.driver) +
                         ", which no kernel driver is; not touching it");
      continue;
    }
    if (device.host_may_need()) {
      if (request.force == Force::no) {
        problems.push_back(label + ": " + device.host_claim() + " (--force binds it anyway" +
                           (added.empty() ? std::string(")")
                                          : std::string("; --exact leaves group members alone)")));
        continue;
      }
      plan.notes.push_back(device.host_claim_note() + "; binding it anyway (--force)");
    }
    if (const std::string lost = vfs_lost_by_unbinding(device); !lost.empty()) {
      problems.push_back(label + ": " + lost);
      continue;
    }
    const JournalEntry* entry = journal.bind_entry(address);
    if (device.on_vfio() && (entry == nullptr || entry->state == EntryState::done)) {
      plan.notes.push_back(address.to_string() + " is already on vfio-pci" +
                           (entry == nullptr
                                ? std::string(" (not bound by pcipass: release leaves it there)")
                                : std::string()));
      continue;
    }
    if (!added.empty())
      plan.notes.push_back("added " + label + ": a guest needs its whole IOMMU group");
    BindToVfio bind;
    bind.address = address;
    bind.expected = *ids;
    bind.current_driver = device.driver;
    bind.restore_driver = device.driver;
    bind.iommu_group = *device.iommu_group;
    bind.identity = identity_of(device, inventory);
    if (entry != nullptr) {
      const auto& before = std::get<BindToVfio>(entry->action);
      if (compare_identity(before.identity, bind.identity) == IdentityMatch::different) {
        // Another device than the journal's: its own driver is what it goes back to.
        plan.notes.push_back(label + ": the journal's entry for this address was made for another "
                                     "device (" +
                             identity_difference(before.identity, bind.identity) +
                             "); it now records this one");
      } else {
        // The driver it had before pcipass first touched it, and serials it
        // hides on vfio-pci, stay recorded from the first bind.
        bind.restore_driver = before.restore_driver;
        bind.identity = carried_identity(before.identity, bind.identity);
      }
    }
    binds.push_back(bind);
  }
  if (!problems.empty()) return refusal("bind", problems);

  if (!binds.empty() && vfio == VfioModule::missing)
    plan.actions.push_back(LoadModule{k_vfio_module});
  for (const BindToVfio& bind : binds) plan.actions.push_back(bind);
  return plan;
}

Result<Plan> plan_release(const Inventory& inventory, const ReleaseRequest& request,
                          const JournalState& journal) {
  Plan plan;
  std::vector<std::string> problems;
  std::vector<const JournalEntry*> entries;
  if (request.scope == ReleaseScope::all) {
    entries = journal.bind_entries();
    if (entries.empty()) plan.notes.push_back("nothing to release: pcipass has bound no device");
  } else {
    entries = named_bind_entries(request.devices, journal, problems);
  }
  for (const JournalEntry* entry : entries) {
    const auto& bound = std::get<BindToVfio>(entry->action);
    const std::string label = bound.address.to_string();
    const PciDevice* device = inventory.find(bound.address);
    if (device == nullptr) {
      plan.actions.push_back(ForgetDevice{bound.address, bound.expected});
      continue;
    }
    const auto ids = DeviceIds::of(*device);
    if (ids != bound.expected) {
      problems.push_back(label + ": is now " + (ids ? ids->to_string() : std::string("unknown")) +
                         ", but pcipass bound " + bound.expected.to_string() +
                         " there; not touching it" +
                         (request.scope == ReleaseScope::all
                              ? " (pcipass release --forget " + label +
                                    " drops it from the journal once you have checked it by hand)"
                              : std::string()));
      continue;
    }
    if (!device->driver.empty() && !device->on_vfio() && device->driver != bound.restore_driver) {
      problems.push_back(
          label + ": is on " + device->driver +
          ", a driver pcipass did not put it on; unbind it first, then release again");
      continue;
    }
    plan.actions.push_back(
        ReleaseDevice{bound.address, bound.expected, device->driver, bound.restore_driver});
  }
  if (problems.empty()) return plan;
  if (request.scope == ReleaseScope::named) return refusal("release", problems);
  plan.refused = std::move(problems);
  return plan;
}

Result<Plan> plan_forget(const ReleaseRequest& request, const JournalState& journal) {
  Plan plan;
  std::vector<std::string> problems;
  for (const JournalEntry* entry : named_bind_entries(request.devices, journal, problems)) {
    const auto& bound = std::get<BindToVfio>(entry->action);
    plan.actions.push_back(ForgetDevice{bound.address, bound.expected, Presence::may_be_here});
  }
  if (!problems.empty()) return refusal("forget", problems);
  return plan;
}

Plan plan_release_files(const JournalState& journal, const FileStates& files) {
  Plan plan;
  const std::vector<const JournalEntry*> entries = journal.file_entries();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const JournalEntry& entry = **it;
    if (const auto* file = std::get_if<WriteFile>(&entry.action)) {
      if (file->path.ends_with(std::string("/") + k_restore_unit_name)) {
        plan.notes.push_back(file->path +
                             " stays: to remove the boot service, run systemctl disable " +
                             k_restore_unit_name + " and delete the file");
        continue;
      }
      auto now = files.find(file->path);
      if (now != files.end() && now->second.exists && now->second.bytes != file->bytes) {
        plan.notes.push_back(file->path +
                             " was changed since pcipass wrote it: left in place, and forgotten");
      }
      plan.actions.push_back(RemoveFile{file->path, file->bytes});
      continue;
    }
    const auto& perms = std::get<SetPermissions>(entry.action);
    if (!perms.previous_mode) {
      plan.notes.push_back("no earlier mode of " + perms.path + " is recorded: left as it is");
      plan.actions.push_back(ForgetFile{perms.path});
      continue;
    }
    // pcipass never sets a set-uid, set-gid, sticky or world-writable mode,
    // not even back: such bits of the earlier mode are dropped, with a note.
    const unsigned mode = *perms.previous_mode & ~07002u;
    if (mode != *perms.previous_mode) {
      plan.notes.push_back(perms.path + " had mode " + octal(*perms.previous_mode) +
                           " before pcipass; it gets " + octal(mode) +
                           " back (never set-uid, set-gid, sticky or world-writable)");
    }
    plan.actions.push_back(RevertPermissions{perms.path, mode, perms.previous_group});
  }
  return plan;
}

}  // namespace pcipass::core
