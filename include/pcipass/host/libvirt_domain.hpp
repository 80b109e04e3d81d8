#pragma once

#include <pcipass/core/device_holders.hpp>
#include <pcipass/core/domain_xml.hpp>
#include <pcipass/host/libvirt.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::host {

// Where an attach or detach takes effect. `config` changes the persistent
// definition only (the default: the guest sees it at its next start);
// `live` changes the running guest, and its definition too when it has one.
enum class AttachScope { config, live };

// What happened to a domain, per part.
struct HostdevResult {
  core::HostdevChange config = core::HostdevChange::not_present;  // persistent definition
  core::HostdevChange live = core::HostdevChange::not_present;    // running guest
  bool used_define_fallback = false;  // the driver lacked attach/detach: XML edited and redefined
};

// The parts of a domain an attach or detach changes, as libvirt describes them.
struct DomainParts {
  std::optional<core::DomainXml> config;  // the persistent definition (inactive XML)
  std::optional<core::DomainXml> live;    // the running guest, with AttachScope::live
};

// Reads the parts of domain `name` that attach_hostdev() or detach_hostdev()
// with `scope` would change, so a caller can check the guest or show a diff
// first. Changes nothing; fails the way they do (unknown domain, live change
// of a stopped guest, persistent change of a transient one).
core::Result<DomainParts> read_domain_parts(const LibvirtConnection& connection,
                                            const std::string& name, AttachScope scope);

// A domain's definition: its persistent one (inactive XML) where it has
// one, else the running guest's.
struct DomainDefinition {
  std::string name;
  core::DomainXml xml;
};

// The definitions of every domain of the connection, running or not, in
// libvirt's order. Fails with libvirt's message (ExitCode::host_error).
core::Result<std::vector<DomainDefinition>> read_all_domains(const LibvirtConnection& connection);

// The PCI devices every domain of the connection takes: its persistent
// definition's and, when it runs, the running guest's (core::DomainDevices),
// in libvirt's order. Only reads. Fails with libvirt's message
// (ExitCode::host_error).
core::Result<std::vector<core::DomainDevices>> read_domain_devices(
    const LibvirtConnection& connection);

// Adds pcipass's <hostdev> for `address` to domain `name`, through
// virDomainAttachDeviceFlags; where the driver lacks it (libvirt's test
// driver), through get XML, edit, define (persistent part only). Adding what
// is there already changes nothing. Fails with libvirt's message: an unknown
// domain with ExitCode::usage, a live attach to a stopped guest with
// ExitCode::refused, other libvirt errors with ExitCode::host_error.
core::Result<HostdevResult> attach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope);

// attach_hostdev() for several devices of one domain (bringup's case: a
// guest's devices). With AttachScope::config and more than one address, the
// persistent definition is read once (with its secrets), all hostdevs not
// there yet are added and it is defined again in one call, so libvirtd
// saves it once instead of once per device; a failure then changes nothing.
// Otherwise one lookup and XML read serve all addresses and each device is
// attached in turn, stopping at the first failure.
core::Result<std::vector<HostdevResult>> attach_hostdevs(
    const LibvirtConnection& connection, const std::string& name,
    const std::vector<core::PciAddress>& addresses, std::string_view hostdev_template,
    AttachScope scope);

// Removes the <hostdev> pcipass added for `address`, the same ways; a hostdev
// the user wrote is left alone (HostdevChange::owned_by_user). The running
// guest is read again after its removal was asked for: a device it still
// holds (PCIe hot-unplug waits for its OS) is HostdevChange::removal_requested.
core::Result<HostdevResult> detach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope);

}  // namespace pcipass::host
