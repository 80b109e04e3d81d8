#include <pcipass/host/libvirt_domain.hpp>

#include <algorithm>
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

// `secure`: with passwords and keys, for an XML that is defined again.
core::Result<core::DomainXml> read_xml(const Target& t, bool inactive, bool secure = false) {
  unsigned flags = 0;
  if (inactive) flags |= VIR_DOMAIN_XML_INACTIVE;
  if (secure) flags |= VIR_DOMAIN_XML_SECURE;
  char* text = virDomainGetXMLDesc(t.domain.get(), flags);
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

// Adds the hostdevs of all `addresses` to the persistent definition with one
// edit of its XML and one virDomainDefineXML: libvirtd then writes the
// definition to disk once, not once per device (about 5 ms each). The XML is
// read with its secrets so that defining it again loses nothing.
core::Result<std::vector<HostdevResult>> attach_by_one_define(
    const Target& t, const std::vector<core::PciAddress>& addresses,
    std::string_view hostdev_template) {
  std::string what = "attaching ";
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    what += (i > 0 ? ", " : "") + addresses[i].to_string();
  }
  what += " to domain '" + t.name + "'";
  if (auto s = check_scope(t, AttachScope::config, "attaching " + addresses.front().to_string() +
                                                       " to domain '" + t.name + "'");
      !s) {
    return fail(s.error());
  }
  auto xml = read_xml(t, true, true);
  if (!xml) return fail(xml.error());
  std::vector<HostdevResult> results;
  bool changed = false;
  for (const core::PciAddress& address : addresses) {
    HostdevResult result;
    result.config = HostdevChange::already_present;
    if (presence(*xml, address) == HostdevChange::not_present) {
      if (auto added = xml->add_hostdev(address, hostdev_template); !added) return fail(added.error());
      result.config = HostdevChange::added;
      changed = true;
    }
    results.push_back(result);
  }
  if (changed) {
    Domain defined(virDomainDefineXML(t.connection, xml->to_string().c_str()));
    if (!defined) {
      return fail(what + ": " + last_libvirt_error(t.connection).message, ExitCode::host_error);
    }
  }
  return results;
}

// Attaches or detaches every address of `addresses` in domain `name`: one
// lookup and one read of each XML part for all of them, then one call per
// device that needs it (bringup passes all the devices of a guest).
core::Result<std::vector<HostdevResult>> change_hostdevs(
    const LibvirtConnection& connection, const std::string& name,
    const std::vector<core::PciAddress>& addresses, std::string_view hostdev_template,
    AttachScope scope, Operation op) {
  auto target = lookup(connection, name);
  if (!target) return fail(target.error());
  const Target& t = *target;
  if (op == Operation::attach && scope == AttachScope::config && addresses.size() > 1) {
    return attach_by_one_define(t, addresses, hostdev_template);
  }
  std::optional<core::DomainXml> live_xml;
  std::optional<core::DomainXml> config_xml;
  std::vector<HostdevResult> results;
  results.reserve(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const core::PciAddress& address = addresses[i];
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
    // The XML was read before this call changed anything: an address listed
    // twice has been handled already.
    const bool repeated =
        std::find(addresses.begin(), addresses.begin() + static_cast<std::ptrdiff_t>(i),
                  address) != addresses.begin() + static_cast<std::ptrdiff_t>(i);
    const auto state_in = [&](const core::DomainXml& xml) {
      if (repeated) {
        return op == Operation::attach ? HostdevChange::already_present : HostdevChange::not_present;
      }
      return presence(xml, address);
    };

    HostdevResult result;
    // The running guest first: when the kernel refuses the device (no IOMMU,
    // group in use), the definition stays as it was.
    if (scope == AttachScope::live) {
      if (!live_xml) {
        auto live = read_xml(t, false);
        if (!live) return fail(live.error());
        live_xml.emplace(std::move(*live));
      }
      const HostdevChange state = state_in(*live_xml);
      if (wanted(state)) {
        if (call(VIR_DOMAIN_AFFECT_LIVE) < 0) {
          return fail(what + " (live): " + last_libvirt_error(t.connection).message,
                      ExitCode::host_error);
        }
        result.live = done;
        // libvirt returns once it has asked the guest, after a few seconds
        // of waiting (virDomainDetachDeviceFlags): the live XML tells
        // whether the device has really left.
        if (op == Operation::detach) {
          auto after = read_xml(t, false);
          if (!after) return fail(after.error());
          if (presence(*after, address) != HostdevChange::not_present)
            result.live = HostdevChange::removal_requested;
        }
      } else {
        result.live = settled(state);
      }
    }
    if (t.persistent) {
      if (!config_xml) {
        auto config = read_xml(t, true);
        if (!config) return fail(config.error());
        config_xml.emplace(std::move(*config));
      }
      const HostdevChange state = state_in(*config_xml);
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
    results.push_back(result);
  }
  return results;
}

core::Result<HostdevResult> change_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope,
                                           Operation op) {
  auto results = change_hostdevs(connection, name, {address}, hostdev_template, scope, op);
  if (!results) return fail(results.error());
  return results->front();
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

namespace {

// Every domain of the connection, running or not, in libvirt's order, each
// with its name and state looked up.
core::Result<std::vector<Target>> list_all_domains(const LibvirtConnection& connection) {
  if (connection.raw() == nullptr) {
    return fail("listing domains: the libvirt connection is closed", ExitCode::host_error);
  }
  virDomainPtr* listed = nullptr;
  const int count = virConnectListAllDomains(connection.raw(), &listed, 0);
  if (count < 0) {
    return fail("listing the domains of '" + connection.uri() +
                    "': " + last_libvirt_error(connection.raw()).message,
                ExitCode::host_error);
  }
  // Own every handle before anything can fail.
  std::vector<Domain> domains;
  domains.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) domains.emplace_back(listed[i]);
  std::free(listed);

  std::vector<Target> out;
  for (Domain& domain : domains) {
    const char* name = virDomainGetName(domain.get());
    if (name == nullptr) continue;
    Target t;
    t.connection = connection.raw();
    t.name = name;
    t.uri = connection.uri();
    t.active = virDomainIsActive(domain.get()) == 1;
    t.persistent = virDomainIsPersistent(domain.get()) == 1;
    t.domain = std::move(domain);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

core::Result<std::vector<DomainDefinition>> read_all_domains(const LibvirtConnection& connection) {
  auto targets = list_all_domains(connection);
  if (!targets) return fail(targets.error());
  std::vector<DomainDefinition> out;
  for (const Target& t : *targets) {
    auto xml = read_xml(t, t.persistent);
    if (!xml) return fail(xml.error());
    out.push_back(DomainDefinition{t.name, std::move(*xml)});
  }
  return out;
}

core::Result<std::vector<core::DomainDevices>> read_domain_devices(
    const LibvirtConnection& connection) {
  auto targets = list_all_domains(connection);
  if (!targets) return fail(targets.error());
  std::vector<core::DomainDevices> out;
  for (const Target& t : *targets) {
    core::DomainDevices domain{t.name, t.active, {}, {}};
    if (t.persistent) {
      auto config = read_xml(t, true);
      if (!config) return fail(config.error());
      domain.config = config->held_pci_devices();
    }
    if (t.active) {
      auto live = read_xml(t, false);
      if (!live) return fail(live.error());
      domain.live = live->held_pci_devices();
    }
    out.push_back(std::move(domain));
  }
  return out;
}

core::Result<HostdevResult> attach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope) {
  return change_hostdev(connection, name, address, hostdev_template, scope, Operation::attach);
}

core::Result<std::vector<HostdevResult>> attach_hostdevs(
    const LibvirtConnection& connection, const std::string& name,
    const std::vector<core::PciAddress>& addresses, std::string_view hostdev_template,
    AttachScope scope) {
  return change_hostdevs(connection, name, addresses, hostdev_template, scope, Operation::attach);
}

core::Result<HostdevResult> detach_hostdev(const LibvirtConnection& connection,
                                           const std::string& name, const core::PciAddress& address,
                                           std::string_view hostdev_template, AttachScope scope) {
  return change_hostdev(connection, name, address, hostdev_template, scope, Operation::detach);
}

}  // namespace pcipass::host
