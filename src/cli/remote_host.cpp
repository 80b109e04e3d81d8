#include "remote_host.hpp"

#include <pcipass/core/text.hpp>
#include <pcipass/host/host_identity.hpp>

#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <filesystem>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

std::string remote_state_dir(const std::string& state_dir, const std::string& uri) {
  constexpr std::size_t k_longest = 160;  // a file name may have 255 bytes
  std::string name;
  for (const char c : uri) {
    const auto byte = static_cast<unsigned char>(c);
    const bool plain = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
                       (byte >= '0' && byte <= '9') || c == '.' || c == '_' || c == '+' ||
                       c == '-';
    if (plain) {
      name += c;
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", byte);
      name += escaped;
    }
  }
  if (name.size() > k_longest || name == "." || name == "..") {
    std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
    for (const char c : uri) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
    // '~' is always escaped above, so a cut name never equals a whole one.
    char tail[20];
    std::snprintf(tail, sizeof tail, "~%016llx", static_cast<unsigned long long>(hash));
    name = name.substr(0, std::min(name.size(), k_longest - 17)) + tail;
  }
  return state_dir + "/hosts/" + name;
}

std::optional<RemoteHost> open_remote_host(Context& context,
                                           host::LibvirtConnection::Access access) {
  const std::string& uri = context.options.connect;
  if (uri.empty()) return std::nullopt;
  const std::string foreign = foreign_libvirt(uri);
  if (foreign.empty()) return std::nullopt;
  if (context.options.sysfs_root != "/sys") {
    throw Failure("--sysfs-root names a host tree (" + context.options.sysfs_root +
                      "), but -c names " + foreign +
                      ": pcipass never mixes the two; drop --sysfs-root to act on that host "
                      "through libvirt, or -c to act on the tree",
                  ExitCode::usage);
  }
  if (!context.options.lspci_file.empty() || context.options.source == "lspci" ||
      context.options.source == "sysfs") {
    throw Failure("-c " + core::sanitize_untrusted(uri) +
                      " acts on that host through libvirt, which also tells its devices; "
                      "--source and --lspci cannot name another source for them",
                  ExitCode::usage);
  }
  RemoteHost remote;
  remote.uri = uri;
  const bool read_write = access == host::LibvirtConnection::Access::read_write;
  remote.connection = std::make_unique<host::LibvirtConnection>(
      (read_write ? context.open_libvirt_rw(uri) : context.open_libvirt(uri)).value_or_throw());
  remote.devices = std::make_unique<host::LibvirtNodeDevices>(*remote.connection, uri);
  remote.state_dir = remote_state_dir(context.options.state_dir, uri);
  remote.identity = host::read_libvirt_identity(*remote.connection);
  return remote;
}

host::Journal load_host_journal(Context& context, const RemoteHost* remote) {
  if (remote == nullptr)
    return host::Journal::load(*context.os, context.options.state_dir).value_or_throw();
  host::Journal journal =
      host::Journal::load(*context.os, remote->state_dir, remote->uri).value_or_throw();
  core::HostIdentity recorded = journal.state().host();
  const std::string journal_name = journal.path().string();
  const std::string uri = core::sanitize_untrusted(remote->uri);
  bool same = false;
  if (!journal.state().empty() && !recorded.empty()) {
    const core::HostComparison hosts = core::compare_hosts(recorded, remote->identity);
    if (hosts.verdict == core::HostComparison::Verdict::different) {
      const std::string renamed =
          hosts.agreements.empty()
              ? ""
              : " (they agree on " + core::join(hosts.agreements, ", ") +
                    ": if that host was only renamed, put its new name in the journal's \"host\")";
      throw Failure("refusing the journal " + journal_name + ": its entries were made on " +
                        recorded.describe() + ", but '" + uri + "' now reaches " +
                        remote->identity.describe() + " (" + core::join(hosts.differences, "; ") +
                        ")" + renamed +
                        "; use a URI that still reaches the first host, or, if it is gone, move "
                        "that folder away",
                    ExitCode::refused);
    }
    if (hosts.verdict == core::HostComparison::Verdict::unknown) {
      throw Failure("refusing the journal " + journal_name + ": its entries were made on " +
                        recorded.describe() + ", and nothing libvirt tells of the host '" + uri +
                        "' reaches now (" + remote->identity.describe() +
                        ") shows it is that machine; give it a name of its own (hostnamectl)",
                    ExitCode::refused);
    }
    same = true;
  }
  // What libvirt tells now, with what it told before where it tells less
  // today -- only when both are known to be one machine.
  core::HostIdentity now = remote->identity;
  if (!same) recorded = {};
  for (auto [field, before] : {std::pair{&now.hostname, &recorded.hostname},
                               {&now.machine_id, &recorded.machine_id},
                               {&now.system_uuid, &recorded.system_uuid},
                               {&now.libvirt_uuid, &recorded.libvirt_uuid}}) {
    if (field->empty()) *field = *before;
  }
  journal.state().set_host(std::move(now));
  return journal;
}

core::Inventory load_remote_inventory(Context& context, const RemoteHost& remote) {
  LoadedInventory loaded =
      load_inventory(context, DeviceScope::all(), remote.connection.get(), &remote.identity);
  if (!loaded.inventory.has_iommu_groups()) {
    throw Failure("libvirt at '" + core::sanitize_untrusted(remote.uri) +
                      "' shows no IOMMU groups: that host cannot give devices to guests (enable "
                      "the IOMMU there: intel_iommu=on or amd_iommu=on, and VT-d/AMD-Vi in its "
                      "firmware)",
                  ExitCode::host_error);
  }
  return std::move(loaded.inventory);
}

std::vector<OtherHostJournal> other_host_journals(Context& context) {
  std::vector<OtherHostJournal> found;
  std::error_code ec;
  const std::filesystem::path hosts = std::filesystem::path(context.options.state_dir) / "hosts";
  for (const auto& folder : std::filesystem::directory_iterator(hosts, ec)) {
    const std::filesystem::path path = folder.path() / "journal.json";
    const auto text = context.os->read_file(path);
    if (!text || !text->has_value()) continue;
    OtherHostJournal journal;
    journal.path = path.string();
    if (const auto state = core::JournalState::parse(**text); state) {
      if (state->empty()) continue;
      journal.entries = state->entries().size();
      journal.uri = core::sanitize_untrusted(core::action_through(state->entries().front().action));
    }
    found.push_back(std::move(journal));
  }
  std::sort(found.begin(), found.end(),
            [](const OtherHostJournal& a, const OtherHostJournal& b) { return a.path < b.path; });
  return found;
}

void make_through_libvirt(core::Plan& plan, const std::string& uri) {
  for (core::Action& action : plan.actions) {
    if (auto* bind = std::get_if<core::BindToVfio>(&action)) {
      bind->through = uri;
    } else if (auto* release = std::get_if<core::ReleaseDevice>(&action)) {
      release->through = uri;
    } else if (auto* forget = std::get_if<core::ForgetDevice>(&action)) {
      forget->through = uri;
    } else {
      throw Failure("cannot " + core::describe(action) + " on another host: through libvirt, "
                        "pcipass only binds and releases devices there",
                    ExitCode::usage);
    }
  }
}

}  // namespace pcipass::cli
