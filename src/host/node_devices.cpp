#include <pcipass/host/node_devices.hpp>

#include <pcipass/core/nodedev_xml.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/host/libvirt.hpp>

#include "libvirt_handles.hpp"

#include <cstdlib>
#include <memory>

namespace pcipass::host {

LibvirtNodeDevices::LibvirtNodeDevices(const LibvirtConnection& connection, std::string uri)
    : m_connection(connection), m_uri(std::move(uri)) {}

namespace {

// libvirt refuses with VIR_ERR_OPERATION_INVALID when the request is wrong
// for the device's state (a running domain uses it, or a device of its IOMMU
// group): a safety refusal (exit 5), not a host that cannot be reached.
core::Unexpected libvirt_failure(virConnectPtr connection, const std::string& what,
                                 const std::string& uri) {
  const LibvirtError error = last_libvirt_error(connection);
  return core::fail(what + " at '" + core::sanitize_untrusted(uri) + "': " + error.message,
                    error.code == VIR_ERR_OPERATION_INVALID ? core::ExitCode::refused
                                                            : core::ExitCode::host_error);
}

// The node device of `address`; null with `missing` set when libvirt has
// none of that name, null with an error otherwise.
core::Result<NodeDevice> lookup(virConnectPtr connection, const core::PciAddress& address,
                                const std::string& uri) {
  const std::string name = address.libvirt_name();
  NodeDevice device(virNodeDeviceLookupByName(connection, name.c_str()));
  if (device) return device;
  if (last_libvirt_error(connection).code == VIR_ERR_NO_NODE_DEVICE) return NodeDevice();
  return libvirt_failure(connection, "looking up node device " + name, uri);
}

}  // namespace

core::Result<std::optional<core::PciDevice>> LibvirtNodeDevices::read(
    const core::PciAddress& address) const {
  virConnectPtr connection = m_connection.raw();
  auto device = lookup(connection, address, m_uri);
  if (!device) return core::fail(device.error());
  if (!*device) return std::optional<core::PciDevice>();
  const LibvirtString xml(virNodeDeviceGetXMLDesc(device->get(), 0));
  if (!xml) {
    if (last_libvirt_error(connection).code == VIR_ERR_NO_NODE_DEVICE)
      return std::optional<core::PciDevice>();
    return libvirt_failure(connection, "reading node device " + address.libvirt_name(), m_uri);
  }
  auto parsed = core::parse_nodedev_xml(xml.get());
  if (!parsed) {
    return core::fail("reading node device " + address.libvirt_name() + " at '" +
                          core::sanitize_untrusted(m_uri) + "': " + parsed.error().message,
                      core::ExitCode::host_error);
  }
  if (!*parsed || (*parsed)->address != address) {
    return core::fail("reading node device " + address.libvirt_name() + " at '" +
                          core::sanitize_untrusted(m_uri) + "': it does not describe " +
                          address.to_string(),
                      core::ExitCode::host_error);
  }
  return std::move(*parsed);
}

namespace {

// Looks the node device of `address` up and makes `call` on it; `doing`
// begins the messages ("detaching pci_0000_02_00_0 to vfio").
template <class Call>
core::Status on_node_device(virConnectPtr connection, const core::PciAddress& address,
                            const std::string& uri, const std::string& doing, Call call) {
  auto device = lookup(connection, address, uri);
  if (!device) return core::fail(device.error());
  if (!*device) {
    return core::fail(doing + " at '" + core::sanitize_untrusted(uri) +
                          "': libvirt has no such node device",
                      core::ExitCode::host_error);
  }
  if (call(device->get()) < 0) return libvirt_failure(connection, doing, uri);
  return core::ok();
}

}  // namespace

core::Status LibvirtNodeDevices::detach_to_vfio(const core::PciAddress& address) {
  return on_node_device(m_connection.raw(), address, m_uri,
                        "detaching " + address.libvirt_name() + " to vfio",
                        [](virNodeDevicePtr device) {
                          return virNodeDeviceDetachFlags(device, "vfio", 0);
                        });
}

core::Status LibvirtNodeDevices::reattach(const core::PciAddress& address) {
  return on_node_device(m_connection.raw(), address, m_uri,
                        "re-attaching " + address.libvirt_name(),
                        [](virNodeDevicePtr device) { return virNodeDeviceReAttach(device); });
}

}  // namespace pcipass::host
