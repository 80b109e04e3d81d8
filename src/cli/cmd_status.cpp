#include "commands.hpp"
#include "host_prep.hpp"
#include "remote_host.hpp"
#include "table.hpp"

#include <pcipass/core/device_holders.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/host/libvirt_domain.hpp>
#include <pcipass/core/sriov.hpp>
#include <pcipass/core/text.hpp>

#include <optional>
#include <ostream>

namespace pcipass::cli {

namespace {

// One journaled device: what the journal says against what sysfs shows now.
struct DeviceStatus {
  const core::JournalEntry* entry;
  std::string driver;           // now
  std::string driver_override;  // now
  bool vfio_node = false;
  bool present = true;
  std::string verdict;
};

std::string read_override(const host::Sysfs& sys, const core::PciAddress& address) {
  auto text = sys.read("bus/pci/devices/" + address.to_string() + "/driver_override", 4096);
  if (!text) return {};
  const std::string value(core::trim(*text));
  return value == "(null)" ? std::string() : value;
}

DeviceStatus assess(Context& context, const core::Inventory& inventory,
                    const core::JournalEntry& entry, const std::optional<RemoteHost>& remote) {
  const auto& bind = std::get<core::BindToVfio>(entry.action);
  DeviceStatus s{&entry, {}, {}, false, true, {}};
  const core::PciDevice* device = inventory.find(bind.address);
  if (device == nullptr) {
    s.present = false;
    s.verdict = remote ? "device missing: not on that host now; pcipass -c URI restore skips it, "
                         "pcipass -c URI release forgets it"
                       : "device missing: not on this host now; restore skips it, pcipass "
                         "release forgets it";
    return s;
  }
  s.driver = device->driver;
  if (!remote) {
    s.driver_override = read_override(*context.sysfs, bind.address);
    s.vfio_node = context.dev->exists("vfio/" + std::to_string(bind.iommu_group));
  }
  // libvirt shows the driver only: on vfio-pci is all another host can tell.
  const bool applied =
      device->on_vfio() &&
      (remote || (s.driver_override == core::k_vfio_driver && s.vfio_node));
  if (entry.state != core::EntryState::done) {
    const std::string pcipass = remote ? "pcipass -c URI" : "pcipass";
    s.verdict = std::string("interrupted (") + core::to_string(entry.state) + "): run " + pcipass +
                " bind again to finish, or " + pcipass + " release to undo";
  } else if (device->ids() != bind.expected.to_string()) {
    s.verdict = "a different device (" + device->ids() + ") sits there now";
  } else if (applied) {
    s.verdict = "applied";
  } else if (!device->on_vfio() && remote) {
    s.verdict = "not applied (after a reboot of that host?): run pcipass -c URI bind again, or "
                "pcipass -c URI release";
  } else if (!device->on_vfio()) {
    s.verdict = "not applied (after a reboot?): run pcipass restore, or pcipass release";
  } else {
    s.verdict =
        !s.vfio_node
            ? "on vfio-pci but /dev/vfio/" + std::to_string(bind.iommu_group) + " is missing"
            : "on vfio-pci but driver_override is not set: a reprobe would move it";
  }
  return s;
}

// A recorded file or mode against what is there now.
struct FileNow {
  enum class State { as_recorded, missing, differs } state = State::missing;
  core::FileState file;
};

const char* to_string(FileNow::State state) {
  switch (state) {
    case FileNow::State::as_recorded: return "as-recorded";
    case FileNow::State::missing: return "missing";
    case FileNow::State::differs: return "differs";
  }
  return "differs";
}

// Empty for entries that are not files, or when the files could not be read.
std::optional<FileNow> file_now(const core::JournalEntry& entry, const core::FileStates* files) {
  const auto path = core::action_path(entry.action);
  const bool recorded_change = std::holds_alternative<core::WriteFile>(entry.action) ||
                               std::holds_alternative<core::SetPermissions>(entry.action);
  if (!path || !recorded_change || files == nullptr) return std::nullopt;
  const auto it = files->find(*path);
  FileNow now{FileNow::State::missing, it == files->end() ? core::FileState{} : it->second};
  if (now.file.exists)
    now.state = core::recorded_file_holds(entry.action, now.file) ? FileNow::State::as_recorded
                                                                  : FileNow::State::differs;
  return now;
}

std::string describe_now(const FileNow& now) {
  if (now.state == FileNow::State::as_recorded) return "as recorded";
  if (now.state == FileNow::State::missing) return "missing";
  return "now mode " + core::octal(now.file.mode) +
         (now.file.group.empty() ? std::string() : " group " + now.file.group);
}

// How many VFs the PF of a VF count entry has now, or nullopt when it is gone.
std::optional<unsigned> vfs_now(const core::Inventory& inventory, const core::JournalEntry& entry) {
  const auto* set = std::get_if<core::SetVfCount>(&entry.action);
  if (set == nullptr) return std::nullopt;
  const core::PciDevice* pf = inventory.find(set->address);
  if (pf == nullptr) return std::nullopt;
  return core::enabled_vfs(*pf);
}

std::string or_dash(const std::string& text) {
  return text.empty() ? "-" : text;
}

int run_status(Context& context) {
  const std::optional<RemoteHost> remote =
      open_remote_host(context, host::LibvirtConnection::Access::read_only);
  host::Journal journal =
      load_host_journal(context, remote ? &*remote : nullptr);
  core::Inventory inventory;
  // Which guests hold each device: read on another host only, where the
  // devices and the domains come from the one libvirt.
  std::optional<core::DeviceHolders> holders;
  if (!remote) {
    inventory = load_sysfs_inventory(context);
  } else if (!journal.state().bind_entries().empty()) {
    inventory = load_remote_inventory(context, *remote);
    holders = core::holders_of(host::read_domain_devices(*remote->connection).value_or_throw());
  }
  const auto held = [&](const core::PciAddress& address) {
    static const std::vector<core::DeviceHolder> none;
    if (!holders) return none;
    const auto it = holders->find(address);
    return it == holders->end() ? none : it->second;
  };
  std::vector<DeviceStatus> devices;
  for (const core::JournalEntry* entry : journal.state().bind_entries()) {
    devices.push_back(assess(context, inventory, *entry, remote));
  }
  std::vector<const core::JournalEntry*> others;
  for (const core::JournalEntry& entry : journal.state().entries()) {
    if (!std::holds_alternative<core::BindToVfio>(entry.action)) others.push_back(&entry);
  }
  // Files and modes as they are now (a reboot resets sysfs modes).
  auto files = host::read_file_states(*context.os, journal.state());
  if (!files) warn(context, "cannot check the recorded files now: " + files.error().message);
  const core::FileStates* now = files ? &*files : nullptr;

  const std::vector<OtherHostJournal> other_hosts =
      remote ? std::vector<OtherHostJournal>{} : other_host_journals(context);
  const auto mention_other_hosts = [&](std::ostream& out) {
    for (const OtherHostJournal& other : other_hosts) {
      if (other.uri.empty()) {
        out << "(another host's journal " << other.path << " cannot be read)\n";
      } else {
        out << "(the host at '" << other.uri << "' has " << other.entries
            << (other.entries == 1 ? " journal entry" : " journal entries")
            << " here: pcipass -c " << other.uri << " status)\n";
      }
    }
  };
  if (context.options.json) {
    nlohmann::json doc{{"schema", core::k_json_schema_version},
                       {"journal", journal.path().string()},
                       {"through", remote ? nlohmann::json(remote->uri) : nlohmann::json(nullptr)}};
    doc["devices"] = nlohmann::json::array();
    for (const DeviceStatus& s : devices) {
      const auto& bind = std::get<core::BindToVfio>(s.entry->action);
      doc["devices"].push_back({{"address", bind.address.to_string()},
                                {"ids", bind.expected.to_string()},
                                {"iommu_group", bind.iommu_group},
                                {"journal_state", core::to_string(s.entry->state)},
                                {"error", s.entry->error},
                                {"restore_driver", bind.restore_driver},
                                {"present", s.present},
                                {"driver", s.driver},
                                {"driver_override", remote ? nlohmann::json(nullptr)
                                                           : nlohmann::json(s.driver_override)},
                                {"vfio_node", remote ? nlohmann::json(nullptr)
                                                     : nlohmann::json(s.vfio_node)},
                                {"state", s.verdict},
                                {"held_by", holders ? core::holders_to_json(held(bind.address))
                                                    : nlohmann::json(nullptr)}});
    }
    // This machine's status names the other hosts' journals kept here.
    doc["other_hosts"] = nlohmann::json::array();
    if (!remote) {
      for (const OtherHostJournal& other : other_hosts) {
        doc["other_hosts"].push_back({{"through", other.uri.empty() ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(other.uri)},
                                      {"journal", other.path},
                                      {"entries", other.entries}});
      }
    }
    doc["other"] = nlohmann::json::array();
    for (const core::JournalEntry* entry : others) {
      nlohmann::json state_now = nullptr;
      if (const auto file = file_now(*entry, now)) {
        state_now = {{"state", to_string(file->state)},
                     {"mode", file->file.exists ? nlohmann::json(core::octal(file->file.mode))
                                                : nlohmann::json(nullptr)},
                     {"group", file->file.exists ? nlohmann::json(file->file.group)
                                                 : nlohmann::json(nullptr)}};
      }
      if (std::holds_alternative<core::SetVfCount>(entry->action)) {
        const auto count = vfs_now(inventory, *entry);
        state_now = {{"vfs", count ? nlohmann::json(*count) : nlohmann::json(nullptr)}};
      }
      doc["other"].push_back({{"journal_state", core::to_string(entry->state)},
                              {"action", core::action_to_json(entry->action)},
                              {"error", entry->error},
                              {"now", std::move(state_now)}});
    }
    *context.out << core::dump_json(doc);
    return 0;
  }
  std::ostream& out = *context.out;
  if (devices.empty() && others.empty()) {
    out << "pcipass has changed nothing on "
        << (remote ? "the host at '" + core::sanitize_untrusted(remote->uri) + "'"
                   : std::string("this host"))
        << " (journal " << journal.path().string() << ")\n";
    mention_other_hosts(out);
    return 0;
  }
  if (!devices.empty()) {
    std::vector<std::string> columns{"DEVICE",     "IDS",    "GROUP",    "JOURNAL",  "RESTORE-TO",
                                     "DRIVER",     "OVERRIDE", "VFIO-NODE", "STATE"};
    if (holders) columns.push_back("GUEST");
    Table table(columns);
    for (const DeviceStatus& s : devices) {
      const auto& bind = std::get<core::BindToVfio>(s.entry->action);
      std::vector<std::string> row{bind.address.to_string(),
                                   bind.expected.to_string(),
                                   std::to_string(bind.iommu_group),
                                   core::to_string(s.entry->state),
                                   or_dash(bind.restore_driver), or_dash(s.driver),
                                   remote ? "unknown" : or_dash(s.driver_override),
                                   remote ? "unknown" : (s.vfio_node ? "present" : "missing"),
                                   s.verdict};
      if (holders) {
        const auto guests = held(bind.address);
        row.push_back(guests.empty() ? "-" : core::describe_holders(guests));
      }
      table.add_row(row);
    }
    table.print(out);
    if (remote) {
      out << "(devices on the host at '" << core::sanitize_untrusted(remote->uri)
          << "', as its libvirt reports them: it shows drivers, not driver_override or "
             "/dev/vfio)\n";
    }
  }
  for (const core::JournalEntry* entry : others) {
    const auto file = file_now(*entry, now);
    std::string vf_now;
    if (std::holds_alternative<core::SetVfCount>(entry->action)) {
      const auto count = vfs_now(inventory, *entry);
      vf_now = count ? "; it has " + std::to_string(*count) + " now" : "; not on this host now";
    }
    out << core::to_string(entry->state) << ": " << core::describe(entry->action)
        << (entry->error.empty() ? "" : " (" + entry->error + ")")
        << (file ? "; " + describe_now(*file) : std::string()) << vf_now << "\n";
  }
  mention_other_hosts(out);
  return 0;
}

}  // namespace

void register_status(CLI::App& app, Context& context, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Show what pcipass has applied, from its journal, against what the host shows now (with -c "
      "URI of another host: that host's journal against what its libvirt reports)");
  cmd->callback([&context, &exit_code] { exit_code = run_status(context); });
}

}  // namespace pcipass::cli
