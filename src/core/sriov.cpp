#include <pcipass/core/sriov.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>

namespace pcipass::core {

unsigned enabled_vfs(const PciDevice& d) {
  if (d.sriov_num_vfs) return *d.sriov_num_vfs;
  return static_cast<unsigned>(d.virtual_functions.size());
}

std::string vfs_lost_by_unbinding(const PciDevice& pf) {
  const unsigned count = enabled_vfs(pf);
  if (count == 0 || pf.on_vfio()) return {};
  std::string text = "is an SR-IOV physical function with " + std::to_string(count) +
                     (count == 1 ? " virtual function" : " virtual functions") + " enabled";
  if (!pf.virtual_functions.empty()) {
    text += " (" + pf.virtual_functions.front().to_string();
    if (pf.virtual_functions.size() > 1)
      text += " and " + std::to_string(pf.virtual_functions.size() - 1) + " more";
    text += ")";
  }
  text += pf.driver.empty()
              ? std::string("; vfio-pci refuses a PF with SR-IOV enabled")
              : "; unbinding " + pf.driver +
                    " removes them from the host and from any guest using them";
  text += ". Set its VF count to 0 first (pcipass vfs " + pf.address.to_string() +
          " 0), or pass its VFs instead";
  return text;
}

std::string sriov_relation(const PciDevice& d, const Inventory& inventory) {
  if (d.physical_function) {
    std::string text = "VF";
    if (const PciDevice* pf = inventory.find(*d.physical_function)) {
      const auto& vfs = pf->virtual_functions;
      const auto it = std::find(vfs.begin(), vfs.end(), d.address);
      if (it != vfs.end()) text += " " + std::to_string(it - vfs.begin());
    }
    return text + " of " + d.physical_function->to_string();
  }
  const unsigned count = enabled_vfs(d);
  if (count == 0) return {};
  return "PF of " + std::to_string(count) + (count == 1 ? " VF" : " VFs");
}

namespace {

std::string vfs_text(unsigned n) { return std::to_string(n) + (n == 1 ? " VF" : " VFs"); }

// Why the VFs `pf` has now may not be destroyed, one line each.
std::vector<std::string> vfs_in_use(const Inventory& inventory, const PciDevice& pf,
                                    const JournalState& journal, Force force,
                                    const std::vector<PciAddress>& releasing) {
  std::vector<std::string> problems;
  for (const PciAddress& address : pf.virtual_functions) {
    const PciDevice* vf = inventory.find(address);
    if (vf == nullptr) continue;
    const bool released =
        std::find(releasing.begin(), releasing.end(), address) != releasing.end();
    if (released) continue;
    const std::string label = address.to_string() + " (VF of " + pf.address.to_string() + ")";
    if (journal.bind_entry(address) != nullptr) {
      problems.push_back(label + ": bound by pcipass; release it first (pcipass release " +
                         address.to_string() + ")");
    } else if (vf->on_vfio()) {
      problems.push_back(label + ": on vfio-pci, so a guest may hold it; give it back to its "
                                 "driver first");
    } else if (vf->host_may_need() && force == Force::no) {
      problems.push_back(label + ": " + vf->host_claim() + " (--force changes its PF anyway)");
    }
  }
  return problems;
}

// The PF a VF count entry names, when it is still there with its ids and
// nothing says it is another card (an identical one that took the address
// after a reboot: its VFs would reach the guests); else nullptr and a line
// in `refused` ending in `consequence`.
const PciDevice* recorded_pf(const Inventory& inventory, const SetVfCount& set,
                             const std::string& consequence, std::vector<std::string>& refused) {
  const std::string label = set.address.to_string();
  const PciDevice* pf = inventory.find(set.address);
  if (pf == nullptr) {
    refused.push_back(label + ": not on this host now; " + consequence);
    return nullptr;
  }
  if (DeviceIds::of(*pf) != set.expected) {
    refused.push_back(label + ": is now " + pf->ids() + ", not the " + set.expected.to_string() +
                      " whose VFs pcipass changed; " + consequence);
    return nullptr;
  }
  const DeviceIdentity now = identity_of(*pf, inventory);
  std::vector<PciAddress> found = find_by_identity(inventory, set.identity, set.address);
  std::erase(found, set.address);
  const std::string moved = found.size() == 1 ? "; the card pcipass changed (" +
                                                    set.identity.serials() + ") is at " +
                                                    found.front().to_string() + " now"
                                              : std::string();
  switch (compare_identity(set.identity, now)) {
    case IdentityMatch::different:
      refused.push_back(label + ": is not the card whose VFs pcipass changed (" +
                        identity_difference(set.identity, now) +
                        "): an identical card took its address; " + consequence + moved);
      return nullptr;
    case IdentityMatch::unknown:
      if (!found.empty()) {
        refused.push_back(label + ": cannot be told from the card whose VFs pcipass changed (it "
                                  "shows " +
                          now.serials() + "), whose serials are found elsewhere; " + consequence +
                          moved);
        return nullptr;
      }
      break;
    case IdentityMatch::same: break;
  }
  return pf;
}

// What a new VF count entry records as the PF's serials: what it shows, plus
// those `set` recorded and it hides now.
DeviceIdentity pf_identity(const PciDevice& pf, const Inventory& inventory, const SetVfCount& set) {
  return carried_identity(set.identity, identity_of(pf, inventory));
}

}  // namespace

Result<Plan> plan_vf_count(const Inventory& inventory, const VfCountRequest& request,
                           const JournalState& journal) {
  const std::string label = request.pf.to_string();
  const PciDevice* pf = inventory.find(request.pf);
  if (pf == nullptr) return fail("no device " + label + " on this host", ExitCode::usage);
  if (pf->physical_function || !pf->sriov_total_vfs || *pf->sriov_total_vfs == 0) {
    return fail(label + " is not an SR-IOV physical function (it has no sriov_totalvfs)",
                ExitCode::usage);
  }
  if (request.count > *pf->sriov_total_vfs) {
    return fail(label + " supports at most " + vfs_text(*pf->sriov_total_vfs) + ", not " +
                    std::to_string(request.count),
                ExitCode::usage);
  }
  Plan plan;
  const unsigned now = enabled_vfs(*pf);
  // The same count again finishes a change an earlier run left unrecorded
  // as done (its journal save failed, or it was killed): writing the count
  // it has changes nothing in the kernel and closes the entry.
  const bool finishing = now == request.count;
  if (finishing) {
    const auto entries = journal.vf_count_entries();
    const bool open = std::any_of(entries.begin(), entries.end(), [&](const JournalEntry* e) {
      return std::get<SetVfCount>(e->action).address == request.pf &&
             e->state != EntryState::done;
    });
    if (!open) {
      plan.notes.push_back(label + " has " + vfs_text(now) + " already");
      return plan;
    }
    plan.notes.push_back(label + ": finishing the change an earlier run left unfinished");
  }
  std::vector<std::string> problems;
  const auto ids = DeviceIds::of(*pf);
  if (!ids) problems.push_back(label + ": vendor:device unknown, so it cannot be checked first");
  if (pf->driver.empty()) {
    problems.push_back(label + ": has no driver; the kernel makes VFs only through the PF's "
                               "driver (bind it to its driver first)");
  } else if (pf->on_vfio()) {
    problems.push_back(label + ": is on vfio-pci; pcipass changes the VFs of a PF on its own "
                               "driver only");
  }
  if (now > 0 && !finishing) {
    auto in_use = vfs_in_use(inventory, *pf, journal, request.force, {});
    problems.insert(problems.end(), in_use.begin(), in_use.end());
    if (request.force == Force::yes) {
      for (const PciAddress& address : pf->virtual_functions) {
        const PciDevice* vf = inventory.find(address);
        if (vf != nullptr && vf->host_may_need())
          plan.notes.push_back(vf->host_claim_note() + "; removing it anyway (--force)");
      }
    }
  }
  if (!problems.empty()) {
    return fail("refusing to change the VFs of " + label + ":\n  " + join(problems, "\n  "),
                ExitCode::refused);
  }
  if (now > 0 && request.count > 0) {
    plan.notes.push_back(label + ": the kernel goes from " + vfs_text(now) + " to 0 first, so " +
                         "its VFs are made anew");
  }
  SetVfCount set{request.pf, *ids, pf->driver, request.count, now, false,
                 identity_of(*pf, inventory)};
  for (const JournalEntry* entry : journal.vf_count_entries()) {
    const auto& earlier = std::get<SetVfCount>(entry->action);
    if (earlier.address != request.pf) continue;
    if (compare_identity(earlier.identity, set.identity) == IdentityMatch::different) {
      plan.notes.push_back(label + ": the journal's VF count entry for this address was made "
                                   "for another card (" +
                           identity_difference(earlier.identity, set.identity) +
                           "); it now records this one");
    } else {
      set.identity = carried_identity(earlier.identity, set.identity);
    }
  }
  plan.actions.push_back(set);
  return plan;
}

Plan plan_vf_count_undo(const Inventory& inventory, const JournalState& journal,
                        const std::vector<PciAddress>& releasing) {
  Plan plan;
  for (const JournalEntry* entry : journal.vf_count_entries()) {
    const auto& set = std::get<SetVfCount>(entry->action);
    const std::string label = set.address.to_string();
    const PciDevice* pf =
        recorded_pf(inventory, set, "it does not get its " + vfs_text(set.previous) + " back",
                    plan.refused);
    if (pf == nullptr) continue;
    const unsigned now = enabled_vfs(*pf);
    if (now != set.previous && now > 0) {
      auto in_use = vfs_in_use(inventory, *pf, journal, Force::no, releasing);
      if (!in_use.empty()) {
        plan.refused.push_back(label + ": its VFs cannot be made anew: " + join(in_use, "; "));
        continue;
      }
    }
    plan.actions.push_back(SetVfCount{set.address, set.expected, pf->driver, set.previous, now,
                                      true, pf_identity(*pf, inventory, set)});
  }
  return plan;
}

Plan plan_vf_count_restore(const Inventory& inventory, const JournalState& journal) {
  Plan plan;
  for (const JournalEntry* entry : journal.vf_count_entries()) {
    const auto& set = std::get<SetVfCount>(entry->action);
    const std::string label = set.address.to_string();
    const PciDevice* pf = recorded_pf(inventory, set, "it does not get its " + vfs_text(set.count) + " again",
                                      plan.refused);
    if (pf == nullptr) continue;
    const unsigned now = enabled_vfs(*pf);
    // The same count: nothing to make, unless the entry was left unfinished
    // (writing the count again closes it).
    if (now == set.count && entry->state == EntryState::done) continue;
    if (pf->driver.empty()) {
      plan.refused.push_back(label + ": has no driver now, so its " + vfs_text(set.count) +
                             " cannot be made");
      continue;
    }
    plan.actions.push_back(SetVfCount{set.address, set.expected, pf->driver, set.count, now,
                                      false, pf_identity(*pf, inventory, set)});
  }
  return plan;
}

}  // namespace pcipass::core
