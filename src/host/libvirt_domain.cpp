#include <pcipass/host/libvirt_domain.hpp>

#include <cstdlib>
#include <memory>

namespace pcipass::host {

using core::ExitCode;
using core::fail;
using core::HostdevChange;

namespace {

struct DomainFree {
  void operator()(virDomainPtr domain) const { virDomainFree(domain); }
};
using Domain = std::unique_ptr<virDomain, DomainFree>;

// Everything one attach or detach needs, looked up once.
struct Target {
  virConnectPtr connection = nullptr;
  Domain domain;
  std::string name;
  std::string uri;
  bool active = false;
  bool persistent = false;
};

core::Result<Target> lookup(const LibvirtConnection& connection, const std::string& name) {
  if (connection.raw() == nullptr) {
    return fail("looking up domain '" + name + "': the libvirt connection is closed",
                ExitCode::host_error);
  }
  Target t;
  t.connection = connection.raw();
  t.name = name;
  t.uri = connection.uri();
  t.domain.reset(virDomainLookupByName(t.connection, name.c_str()));
  if (!t.domain) {
    const LibvirtError error = last_libvirt_error(t.connection);
    return fail("domain '" + name + "' at '" + t.uri + "': " + error.message,
                error.code == VIR_ERR_NO_DOMAIN ? ExitCode::usage : ExitCode::host_error);
  }
  t.active = virDomainIsActive(t.domain.get()) == 1;
  t.persistent = virDomainIsPersistent(t.domain.get()) == 1;
  return t;
}

core::Result<core::DomainXml> read_xml(const Target& t, bool inactive) {
  char* text = virDomainGetXMLDesc(t.domain.get(), inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (text == nullptr) {
    return fail("reading the XML of domain '" + t.name + "': " + last_libvirt_error(t.connection).message,
                ExitCode::host_error);
  }
  const std::unique_ptr<char, decltype(&std::free)> owned(text, &std::free);
  auto xml = core::DomainXml::parse(text);
  if (!xml) return fail(xml.error().with_context("reading the XML of domain '" + t.name + "'"));
  return xml;
}

// How the hostdev of `address` stands in `xml`.
HostdevChange presence(const core::DomainXml& xml, const core::PciAddress& address) {
  for (const core::PciHostdev& h : xml.pci_hostdevs()) {
    if (h.address == address) {
      return h.owner == core::HostdevOwner::pcipass ? HostdevChange::already_present
                                                    : HostdevChange::owned_by_user;
    }
  }
  return HostdevChange::not_present;
}

// Refuses a scope the domain cannot take; `what` starts the message.
core::Status check_scope(const Target& t, AttachScope scope, const std::string& what) {
  if (scope == AttachScope::live && !t.active) {
    return fail(what + ": the domain is not running; without --live pcipass changes its "
                       "persistent definition",
                ExitCode::refused);
  }
  if (scope == AttachScope::config && !t.persistent) {
    return fail(what + ": the domain is transient (it has no persistent definition); use --live",
                ExitCode::refused);
  }
  return core::ok();
}

enum class Operation { attach, detach };

const char* verb(Operation op) { return op == Operation::attach ? "attaching" : "detaching"; }

// Changes the persistent definition by editing its XML and defining it again:
// for drivers without virDomainAttachDeviceFlags (libvirt's test driver).
core::Status redefine(const Target& t, Operation op, const core::PciAddress& address,
                      std::string_view hostdev_template) {
  auto xml = read_xml(t, true);
  if (!xml) return fail(xml.error());
  if (op == Operation::attach) {
    if (auto added = xml->add_hostdev(address, hostdev_template); !added) return fail(added.error());
  } else {
    xml->remove_hostdev(address);
  }
  Domain defined(virDomainDefineXML(t.connection, xml->to_string().c_str()));
  if (!defined) {
    return fail(std::string(verb(op)) + " " + address.to_string() + " in domain '" + t.name +
                    "' by redefining it: " + last_libvirt_error(t.connection).message,
                ExitCode::host_error);
  }
  return core::ok();
}

core::Result<HostdevResult> change_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope,
                                           Operation op) {
  auto target = lookup(connection, name);
  if (!target) return fail(target.error());
  const Target& t = *target;
  auto device_xml = core::make_hostdev_xml(address, hostdev_template);
  if (!device_xml) return fail(device_xml.error());
  const std::string what = std::string(verb(op)) + " " + address.to_string() +
                           (op == Operation::attach ? " to" : " from") + " domain '" + name + "'";

  if (auto s = check_scope(t, scope, what); !s) return fail(s.error());

  const auto call = [&](unsigned flags) {
    return op == Operation::attach
               ? virDomainAttachDeviceFlags(t.domain.get(), device_xml->c_str(), flags)
               : virDomainDetachDeviceFlags(t.domain.get(), device_xml->c_str(), flags);
  };
  const HostdevChange done = op == Operation::attach ? HostdevChange::added : HostdevChange::removed;
  const auto wanted = [&](HostdevChange state) {
    return op == Operation::attach ? state == HostdevChange::not_present
                                   : state == HostdevChange::already_present;
  };
  const auto settled = [&](HostdevChange state) {
    // Nothing to do: attached already, or nothing of pcipass's to detach.
    if (op == Operation::attach) return HostdevChange::already_present;
    return state == HostdevChange::owned_by_user ? HostdevChange::owned_by_user
                                                 : HostdevChange::not_present;
  };

  HostdevResult result;
  // The running guest first: when the kernel refuses the device (no IOMMU,
  // group in use), the definition stays as it was.
  if (scope == AttachScope::live) {
    auto live = read_xml(t, false);
    if (!live) return fail(live.error());
    const HostdevChange state = presence(*live, address);
    if (wanted(state)) {
      if (call(VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return fail(what + " (live): " + last_libvirt_error(t.connection).message,
                    ExitCode::host_error);
      }
      result.live = done;
    } else {
      result.live = settled(state);
    }
  }
  if (t.persistent) {
    auto config = read_xml(t, true);
    if (!config) return fail(config.error());
    const HostdevChange state = presence(*config, address);
    if (wanted(state)) {
      if (call(VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        const LibvirtError error = last_libvirt_error(t.connection);
        if (error.code != VIR_ERR_NO_SUPPORT) {
          return fail(what + ": " + error.message, ExitCode::host_error);
        }
        if (auto s = redefine(t, op, address, hostdev_template); !s) return fail(s.error());
        result.used_define_fallback = true;
      }
      result.config = done;
    } else {
      result.config = settled(state);
    }
  }
  return result;
}

}  // namespace

core::Result<DomainParts> read_domain_parts(const LibvirtConnection& connection,
                                            const std::string& name, AttachScope scope) {
  auto target = lookup(connection, name);
  if (!target) return fail(target.error());
  const Target& t = *target;
  if (auto s = check_scope(t, scope, "domain '" + name + "'"); !s) return fail(s.error());
  DomainParts parts;
  if (scope == AttachScope::live) {
    auto live = read_xml(t, false);
    if (!live) return fail(live.error());
    parts.live.emplace(std::move(*live));
  }
  if (t.persistent) {
    auto config = read_xml(t, true);
    if (!config) return fail(config.error());
    parts.config.emplace(std::move(*config));
  }
  return parts;
}

core::Result<HostdevResult> attach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope) {
  return change_hostdev(connection, name, address, hostdev_template, scope, Operation::attach);
}

core::Result<HostdevResult> detach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope) {
  return change_hostdev(connection, name, address, hostdev_template, scope, Operation::detach);
}

}  // namespace pcipass::host
