#include <pcipass/core/restore_planner.hpp>

#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <cstdio>

namespace pcipass::core {

namespace {

bool release_begun(const JournalState& journal, const PciAddress& address) {
  for (const JournalEntry& e : journal.entries()) {
    const bool release = std::holds_alternative<ReleaseDevice>(e.action) ||
                         std::holds_alternative<ForgetDevice>(e.action);
    if (release && action_address(e.action) == address) return true;
  }
  return false;
}

FileState state_of(const FileStates& files, const std::string& path) {
  auto it = files.find(path);
  return it == files.end() ? FileState{} : it->second;
}

// The device part: a bind per journaled device that lost vfio-pci.
void plan_devices(const Inventory& inventory, const JournalState& journal,
                  const RestoreRequest& request, RestorePlan& out, std::vector<BindToVfio>& binds) {
  for (const JournalEntry* entry : journal.bind_entries()) {
    const auto& bound = std::get<BindToVfio>(entry->action);
    const std::string label = bound.address.to_string();
    if (release_begun(journal, bound.address)) {
      out.plan.notes.push_back(label +
                               ": an earlier release of it was interrupted; not binding it "
                               "again (pcipass release " +
                               label + " finishes the release)");
      continue;
    }
    const PciDevice* device = inventory.find(bound.address);
    // Where the bound device's serials are now, when not at its address.
    std::vector<PciAddress> found = find_by_identity(inventory, bound.identity, bound.address);
    std::erase(found, bound.address);
    const std::string moved =
        found.size() == 1 ? "; the device pcipass bound (" + bound.identity.serials() +
                                ") moved from " + label + " to " + found.front().to_string() +
                                ": pcipass bind " + found.front().to_string() +
                                " binds it there, and pcipass bringup (or plan --follow-moved) "
                                "points its guest at it"
                          : std::string();
    if (device == nullptr) {
      out.plan.notes.push_back(label + ": no such PCI device on this host any more (bound as " +
                               bound.expected.to_string() +
                               "); nothing to restore (pcipass release " + label +
                               " forgets it)" + moved);
      continue;
    }
    const DeviceIdentity now = identity_of(*device, inventory);
    const IdentityMatch match = compare_identity(bound.identity, now);
    if (match == IdentityMatch::different) {
      out.refused.push_back(label + ": is not the device pcipass bound there (" +
                            identity_difference(bound.identity, now) +
                            "): an identical device took its address; not touching it" + moved);
      continue;
    }
    if (match == IdentityMatch::unknown && !found.empty()) {
      out.refused.push_back(label + ": cannot be told from the device pcipass bound there (it shows " +
                            now.serials() + "), whose serials are found elsewhere; not touching it" +
                            moved);
      continue;
    }
    if (device->ids() != bound.expected.to_string()) {
      out.refused.push_back(
          label + ": is now " + (device->ids().empty() ? std::string("unknown") : device->ids()) +
          ", but pcipass bound " + bound.expected.to_string() + " there; not touching it");
      continue;
    }
    if (!device->iommu_group) {
      out.refused.push_back(label +
                            ": has no IOMMU group now (is the IOMMU still enabled? see pcipass "
                            "doctor); not binding it");
      continue;
    }
    const bool finished = entry->state == EntryState::done;
    if (device->on_vfio() && finished) {
      out.plan.notes.push_back(label + " is already on vfio-pci");
      continue;
    }
    if (device->host_may_need()) {
      if (request.force == Force::no) {
        const std::string claim =
            device->host_in_use() ? "used by the host now: " + join(device->host_uses, "; ")
                                  : device->host_claim();
        out.refused.push_back(label + ": " + claim + " (restore --force binds it anyway)");
        continue;
      }
      out.plan.notes.push_back(device->host_claim_note() + "; binding it anyway (--force)");
    }
    // VFs something else enabled at boot (a udev rule, the driver's own
    // parameter) would vanish under the guests using them.
    if (const std::string lost = vfs_lost_by_unbinding(*device); !lost.empty()) {
      out.refused.push_back(label + ": " + lost);
      continue;
    }
    if (!finished) {
      out.plan.notes.push_back(label + ": finishing the bind an earlier run left " +
                               to_string(entry->state));
    }
    if (match == IdentityMatch::unknown && bound.identity.has_serial()) {
      out.plan.notes.push_back(label + ": its serials cannot be checked now (bound as " +
                               bound.identity.serials() + "; it shows " + now.serials() +
                               "); only its vendor:device is checked");
    } else if (match == IdentityMatch::same && !found.empty()) {
      out.plan.notes.push_back(label + ": its serials (" + bound.identity.serials() +
                               ") also match another device: only its vendor:device tells them "
                               "apart");
    }
    BindToVfio bind = bound;
    bind.current_driver = device->driver;
    bind.iommu_group = *device->iommu_group;
    bind.identity = carried_identity(bound.identity, now);
    binds.push_back(bind);
  }
}

// The file part: recorded writes and modes put back where they were lost.
// Whether `path` is the vfio node (.../vfio/N) of a group one of `binds`
// puts on vfio-pci: the kernel creates it during the bind.
bool created_by_binds(const std::string& path, const std::vector<BindToVfio>& binds) {
  return std::any_of(binds.begin(), binds.end(), [&](const BindToVfio& bind) {
    return path.ends_with("/vfio/" + std::to_string(bind.iommu_group));
  });
}

void plan_files(const JournalState& journal, const FileStates& files, bool loads_vfio,
                const std::vector<BindToVfio>& binds, const RestoreRequest& request,
                RestorePlan& out) {
  std::string vfio_folder = request.sysfs_root;
  while (vfio_folder.size() > 1 && vfio_folder.back() == '/') vfio_folder.pop_back();
  vfio_folder += "/bus/pci/drivers/vfio-pci/";
  for (const JournalEntry* entry : journal.file_entries()) {
    const std::string path = *action_path(entry->action);
    if (journal.undo_pending(path)) {
      out.plan.notes.push_back(path +
                               ": an earlier release --all was undoing it; left as it is "
                               "(pcipass release --all finishes it)");
      continue;
    }
    const FileState now = state_of(files, path);
    // An entry an earlier run left pending or failed is performed again even
    // when the file looks right: only a run that records it done settles it.
    const bool finished = entry->state == EntryState::done;
    if (const auto* file = std::get_if<WriteFile>(&entry->action)) {
      const bool as_written = recorded_file_holds(*file, now);
      if (as_written && finished) {
        out.plan.notes.push_back("unchanged: " + path);
        continue;
      }
      if (as_written) {
        out.plan.notes.push_back(path + ": finishing the write an earlier run left " +
                                 to_string(entry->state));
      } else {
        out.plan.notes.push_back(path +
                                 (now.exists ? " differs from what pcipass wrote" : " is missing") +
                                 ": writing it again");
      }
      out.plan.actions.push_back(*file);
      continue;
    }
    const auto& perms = std::get<SetPermissions>(entry->action);
    if (!perms.previous_mode) {
      // The file was missing when pcipass tried: nothing it could give back,
      // so nothing to apply again.
      out.plan.notes.push_back(path + ": its mode change never took (the file was missing); " +
                               "not restored (pcipass release --all forgets it)");
      continue;
    }
    if (!now.exists && !(loads_vfio && path.starts_with(vfio_folder)) &&
        !created_by_binds(path, binds)) {
      out.plan.notes.push_back(path + " does not exist now (is its driver loaded?); its mode " +
                               octal(perms.mode) + " is not restored");
      continue;
    }
    if (recorded_file_holds(perms, now)) {
      if (finished) {
        out.plan.notes.push_back("unchanged: " + path);
        continue;
      }
      out.plan.notes.push_back(path + ": finishing the mode change an earlier run left " +
                               to_string(entry->state));
    }
    out.plan.actions.push_back(perms);
  }
}

}  // namespace

RestorePlan plan_restore(const Inventory& inventory, const JournalState& journal, VfioModule vfio,
                         const FileStates& files, const RestoreRequest& request) {
  RestorePlan out;
  std::vector<BindToVfio> binds;
  plan_devices(inventory, journal, request, out, binds);
  // A load an earlier run left pending or failed is made again (the executor
  // skips modprobe when the module is there) so that it is recorded done.
  const bool load_unfinished =
      std::any_of(journal.entries().begin(), journal.entries().end(), [](const JournalEntry& e) {
        const auto* load = std::get_if<LoadModule>(&e.action);
        return load != nullptr && load->name == k_vfio_module && e.state != EntryState::done;
      });
  const bool loads_vfio = (!binds.empty() && vfio == VfioModule::missing) || load_unfinished;
  if (loads_vfio) out.plan.actions.push_back(LoadModule{k_vfio_module});
  for (const BindToVfio& bind : binds) out.plan.actions.push_back(bind);
  plan_files(journal, files, loads_vfio, binds, request, out);
  return out;
}

}  // namespace pcipass::core
