#include <pcipass/core/journal_state.hpp>

#include <pcipass/core/inventory_json.hpp>

#include <algorithm>

namespace pcipass::core {

namespace {

constexpr const char* k_format = "pcipass-journal";
constexpr int k_version = 1;

bool is_device_entry_for(const JournalEntry& entry, const PciAddress& address) {
  return action_address(entry.action) == address;
}

bool is_file_entry_for(const JournalEntry& entry, const std::string& path) {
  return action_path(entry.action) == path;
}

}  // namespace

bool recorded_file_holds(const Action& action, const FileState& now) {
  const auto same_mode_and_group = [&](unsigned mode, const std::string& group) {
    return now.exists && (now.mode & 07777) == (mode & 07777) &&
           (group.empty() || now.group == group);
  };
  if (const auto* file = std::get_if<WriteFile>(&action))
    return same_mode_and_group(file->mode, file->group) && now.bytes == file->bytes;
  if (const auto* perms = std::get_if<SetPermissions>(&action))
    return same_mode_and_group(perms->mode, perms->group);
  return false;
}

std::vector<Action> changes_not_in_effect(std::vector<Action> planned, const JournalState& journal,
                                          const FileStates& now, std::size_t& dropped) {
  const auto same_change = [](const Action& a, const Action& b) {
    const auto* wa = std::get_if<WriteFile>(&a);
    const auto* wb = std::get_if<WriteFile>(&b);
    if (wa != nullptr && wb != nullptr) return *wa == *wb;
    const auto* pa = std::get_if<SetPermissions>(&a);
    const auto* pb = std::get_if<SetPermissions>(&b);
    return pa != nullptr && pb != nullptr && pa->path == pb->path && pa->mode == pb->mode &&
           pa->group == pb->group;
  };
  const auto in_effect = [&](const Action& action) {
    const auto path = action_path(action);
    if (!path) return false;
    const auto state = now.find(*path);
    if (state == now.end() || !recorded_file_holds(action, state->second)) return false;
    for (const JournalEntry* entry : journal.file_entries()) {
      if (entry->state == EntryState::done && same_change(entry->action, action)) return true;
    }
    return false;
  };
  dropped = 0;
  std::vector<Action> kept;
  for (Action& action : planned) {
    if (in_effect(action)) {
      ++dropped;
    } else {
      kept.push_back(std::move(action));
    }
  }
  return kept;
}

const char* to_string(EntryState state) {
  switch (state) {
    case EntryState::pending: return "pending";
    case EntryState::done: return "done";
    case EntryState::failed: return "failed";
  }
  return "pending";
}

std::uint64_t JournalState::begin(const Action& action) {
  Action recorded = action;
  if (auto* vfs = std::get_if<SetVfCount>(&recorded)) {
    std::erase_if(m_entries, [&](const JournalEntry& e) {
      const auto* earlier = std::get_if<SetVfCount>(&e.action);
      if (earlier == nullptr || earlier->address != vfs->address || earlier->undo != vfs->undo)
        return false;
      // What the PF had before pcipass, unless the entry was another card's.
      if (!vfs->undo && compare_identity(earlier->identity, vfs->identity) != IdentityMatch::different)
        vfs->previous = earlier->previous;
      return true;
    });
  } else if (const auto* bind = std::get_if<BindToVfio>(&action)) {
    std::erase_if(m_entries,
                  [&](const JournalEntry& e) { return is_device_entry_for(e, bind->address); });
  } else if (const auto* load = std::get_if<LoadModule>(&action)) {
    std::erase_if(m_entries, [&](const JournalEntry& e) {
      const auto* earlier = std::get_if<LoadModule>(&e.action);
      return earlier != nullptr && earlier->name == load->name;
    });
  } else if (const auto path = action_path(action)) {
    const bool undo = is_undo_of_file(action);
    auto* perms = std::get_if<SetPermissions>(&recorded);
    std::erase_if(m_entries, [&](const JournalEntry& e) {
      if (!is_file_entry_for(e, *path) || is_undo_of_file(e.action) != undo) return false;
      const auto* earlier = std::get_if<SetPermissions>(&e.action);
      if (perms != nullptr && earlier != nullptr && earlier->previous_mode) {
        perms->previous_mode = earlier->previous_mode;
        perms->previous_group = earlier->previous_group;
      }
      return true;
    });
  }
  const std::uint64_t id = m_next_id++;
  m_entries.push_back(JournalEntry{id, std::move(recorded), EntryState::pending, {}});
  return id;
}

JournalEntry* JournalState::find(std::uint64_t id) {
  auto it = std::find_if(m_entries.begin(), m_entries.end(),
                         [&](const JournalEntry& e) { return e.id == id; });
  return it == m_entries.end() ? nullptr : &*it;
}

void JournalState::finish(std::uint64_t id) {
  JournalEntry* entry = find(id);
  if (entry == nullptr) return;
  if (std::holds_alternative<ReleaseDevice>(entry->action) ||
      std::holds_alternative<ForgetDevice>(entry->action)) {
    const PciAddress address = *action_address(entry->action);
    std::erase_if(m_entries,
                  [&](const JournalEntry& e) { return is_device_entry_for(e, address); });
    return;
  }
  if (const auto* vfs = std::get_if<SetVfCount>(&entry->action); vfs && vfs->undo) {
    const PciAddress address = vfs->address;
    std::erase_if(m_entries, [&](const JournalEntry& e) {
      const auto* other = std::get_if<SetVfCount>(&e.action);
      return other != nullptr && other->address == address;
    });
    return;
  }
  if (is_undo_of_file(entry->action)) {
    const std::string path = *action_path(entry->action);
    std::erase_if(m_entries, [&](const JournalEntry& e) { return is_file_entry_for(e, path); });
    return;
  }
  entry->state = EntryState::done;
  entry->error.clear();
}

void JournalState::mark_failed(std::uint64_t id, const std::string& error) {
  if (JournalEntry* entry = find(id)) {
    entry->state = EntryState::failed;
    entry->error = error;
  }
}

const JournalEntry* JournalState::bind_entry(const PciAddress& address) const {
  for (const JournalEntry& e : m_entries) {
    if (const auto* bind = std::get_if<BindToVfio>(&e.action); bind && bind->address == address)
      return &e;
  }
  return nullptr;
}

std::vector<const JournalEntry*> JournalState::bind_entries() const {
  std::vector<const JournalEntry*> out;
  for (const JournalEntry& e : m_entries) {
    if (std::holds_alternative<BindToVfio>(e.action)) out.push_back(&e);
  }
  return out;
}

std::vector<const JournalEntry*> JournalState::file_entries() const {
  std::vector<const JournalEntry*> out;
  for (const JournalEntry& e : m_entries) {
    if (std::holds_alternative<WriteFile>(e.action) ||
        std::holds_alternative<SetPermissions>(e.action)) {
      out.push_back(&e);
    }
  }
  return out;
}

std::vector<const JournalEntry*> JournalState::vf_count_entries() const {
  std::vector<const JournalEntry*> out;
  for (const JournalEntry& e : m_entries) {
    if (const auto* vfs = std::get_if<SetVfCount>(&e.action); vfs && !vfs->undo) out.push_back(&e);
  }
  return out;
}

bool JournalState::undo_pending(const std::string& path) const {
  return std::any_of(m_entries.begin(), m_entries.end(), [&](const JournalEntry& e) {
    return is_undo_of_file(e.action) && is_file_entry_for(e, path);
  });
}

std::string JournalState::to_text() const {
  nlohmann::json doc{{"format", k_format}, {"version", k_version}, {"next_id", m_next_id}};
  if (!m_host.empty()) doc["host"] = m_host.to_json();
  doc["entries"] = nlohmann::json::array();
  for (const JournalEntry& e : m_entries) {
    doc["entries"].push_back({{"id", e.id},
                              {"state", to_string(e.state)},
                              {"error", e.error},
                              {"action", action_to_json(e.action)}});
  }
  return dump_json(doc);
}

Result<JournalState> JournalState::parse(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail("not JSON", ExitCode::bad_input);
  if (doc.value("format", "") != k_format) {
    return fail("not a pcipass journal (no \"format\": \"pcipass-journal\")", ExitCode::bad_input);
  }
  if (!doc.contains("version") || !doc["version"].is_number_integer() ||
      doc["version"].get<int>() != k_version) {
    return fail("journal version is not " + std::to_string(k_version) +
                    " (written by another pcipass version)",
                ExitCode::bad_input);
  }
  if (!doc.contains("next_id") || !doc["next_id"].is_number_unsigned() ||
      !doc.contains("entries") || !doc["entries"].is_array()) {
    return fail("journal: fields 'next_id' and 'entries' missing or malformed",
                ExitCode::bad_input);
  }
  JournalState state;
  if (const auto host = doc.find("host"); host != doc.end() && !host->is_null()) {
    auto identity = HostIdentity::from_json(*host);
    if (!identity) return fail(identity.error().with_context("journal"));
    state.m_host = std::move(*identity);
  }
  state.m_next_id = doc["next_id"].get<std::uint64_t>();
  // Ids count changes; no real journal comes near 2^53 (also the largest
  // integer every JSON reader keeps exact), and one at 2^64-1 would wrap.
  constexpr std::uint64_t k_max_id = 1ull << 53;
  if (state.m_next_id >= k_max_id) {
    return fail("journal: 'next_id' " + std::to_string(state.m_next_id) + " is out of range",
                ExitCode::bad_input);
  }
  for (const nlohmann::json& e : doc["entries"]) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_unsigned() ||
        !e.contains("state") || !e["state"].is_string() || !e.contains("action")) {
      return fail("journal entry: fields 'id', 'state' and 'action' missing or malformed",
                  ExitCode::bad_input);
    }
    JournalEntry entry;
    entry.id = e["id"].get<std::uint64_t>();
    if (entry.id >= k_max_id) {
      return fail("journal entry " + std::to_string(entry.id) + ": id out of range",
                  ExitCode::bad_input);
    }
    const std::string s = e["state"].get<std::string>();
    if (s == "pending")
      entry.state = EntryState::pending;
    else if (s == "done")
      entry.state = EntryState::done;
    else if (s == "failed")
      entry.state = EntryState::failed;
    else
      return fail("journal entry " + std::to_string(entry.id) + ": unknown state",
                  ExitCode::bad_input);
    if (e.contains("error") && e["error"].is_string()) entry.error = e["error"].get<std::string>();
    auto action = action_from_json(e["action"]);
    if (!action)
      return fail(action.error().with_context("journal entry " + std::to_string(entry.id)));
    entry.action = std::move(*action);
    if (entry.id >= state.m_next_id) state.m_next_id = entry.id + 1;
    state.m_entries.push_back(std::move(entry));
  }
  return state;
}

}  // namespace pcipass::core
