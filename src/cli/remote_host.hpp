#pragma once

// Another host reached through libvirt: bind, release and status given
// `-c URI` of a host that is not this machine act there through libvirt's
// node-device API (docs/architecture.md, "Binding through libvirt"), never on
// this machine's sysfs. Its journal lives in its own folder under the state
// folder, so no command for one host ever reads another host's entries.

#include "context.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/host/journal.hpp>
#include <pcipass/host/libvirt.hpp>
#include <pcipass/host/node_devices.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::cli {

struct RemoteHost {
  std::string uri;  // as -c named it: the journal's folder and every entry's `through`
  std::unique_ptr<host::LibvirtConnection> connection;
  std::unique_ptr<host::LibvirtNodeDevices> devices;
  std::string state_dir;  // STATE_DIR/hosts/<the URI, escaped>
  core::HostIdentity identity;  // what libvirt tells of the host it reaches at `uri`
};

// The folder of the journal of the host libvirt reaches at `uri`:
// `state_dir`/hosts/ and the URI with every byte but [A-Za-z0-9._+-] as %XX
// (a long URI is cut and ends in `~` and a hash of the whole, so names stay
// short and distinct).
std::string remote_state_dir(const std::string& state_dir, const std::string& uri);

// The host -c names when it is not this machine (a connection with `access`
// is opened), or nullopt: no -c, or a URI of this machine, whose devices the
// command reads and writes through sysfs as without -c.
std::optional<RemoteHost> open_remote_host(
    Context& context,
    host::LibvirtConnection::Access access = host::LibvirtConnection::Access::read_write);

// The access a changing command needs: read-only for a dry run.
inline host::LibvirtConnection::Access change_access(bool dry_run) {
  return dry_run ? host::LibvirtConnection::Access::read_only
                 : host::LibvirtConnection::Access::read_write;
}

// The journal of the host the run acts on: `remote`'s own, or this
// machine's when null (Journal::load refuses entries of any other host).
// A remote journal whose entries were made on another machine than the one
// its URI reaches now (a DNS or ssh change), or on one nothing libvirt tells
// now confirms, is refused (ExitCode::refused); otherwise it takes the
// host's identity, to be saved with its entries.
host::Journal load_host_journal(Context& context, const RemoteHost* remote);

// The host's inventory through its node devices, with host usage from
// --host-usage FILE when given (else unknown: acting on a device needs
// --force). A host whose libvirt shows no IOMMU groups fails with a host error.
core::Inventory load_remote_inventory(Context& context, const RemoteHost& remote);

// A journal of another host kept here (STATE_DIR/hosts/*/journal.json)
// that holds entries: what this machine's `status` mentions, since nothing
// else would remind anyone of devices bound on another host.
struct OtherHostJournal {
  std::string uri;  // the host its entries were made on ("" when unreadable)
  std::string path;
  std::size_t entries = 0;
};
std::vector<OtherHostJournal> other_host_journals(Context& context);

// Marks every device action of `plan` as made through libvirt at `uri`; a
// plan holding any other change (a module, a file, a VF count) is refused:
// those are made only on this machine.
void make_through_libvirt(core::Plan& plan, const std::string& uri);

}  // namespace pcipass::cli
