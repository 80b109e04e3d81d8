#include <pcipass/host/libvirt.hpp>

#include "libvirt_handles.hpp"

#include <libvirt/virterror.h>

#include <cstdlib>
#include <mutex>
#include <optional>

namespace pcipass::host {
namespace {

// libvirt's default handler prints every error on stderr as it happens;
// pcipass reports errors itself, once, with what it was doing.
void quiet_handler(void* /*user_data*/, virErrorPtr /*error*/) {}

void initialize_libvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A failure here makes the connection attempt fail with libvirt's reason.
    (void)virInitialize();
    virSetErrorFunc(nullptr, quiet_handler);
  });
}

// libvirt text on one line: remote daemons may send anything.
std::string one_line(const char* text) {
  std::string line;
  for (const char* c = text; *c != '\0'; ++c) {
    const auto byte = static_cast<unsigned char>(*c);
    line += (byte < 0x20 || byte == 0x7f) ? ' ' : *c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

LibvirtError last_libvirt_error(virConnectPtr connection) {
  virErrorPtr error = virGetLastError();
  if (error == nullptr && connection != nullptr) error = virConnGetLastError(connection);
  if (error == nullptr || error->message == nullptr) {
    return {VIR_ERR_OK, "libvirt gave no reason"};
  }
  return {error->code, one_line(error->message)};
}

namespace {

LibvirtError last_error(virConnectPtr connection) { return last_libvirt_error(connection); }

struct NodeDeviceListing {
  std::vector<NodeDevice> devices;
  std::optional<LibvirtError> error;
};

NodeDeviceListing list_node_devices(virConnectPtr connection, unsigned int flags) {
  virNodeDevicePtr* devices = nullptr;
  const int count = virConnectListAllNodeDevices(connection, &devices, flags);
  NodeDeviceListing listing;
  if (count < 0) {
    listing.error = last_error(connection);
    return listing;
  }
  for (int i = 0; i < count; ++i) listing.devices.emplace_back(devices[i]);
  std::free(devices);
  return listing;
}

}  // namespace

void LibvirtConnection::Closer::operator()(virConnectPtr connection) const {
  virConnectClose(connection);
}

LibvirtConnection::LibvirtConnection(virConnectPtr connection, std::string requested_uri)
    : m_connection(connection), m_requested_uri(std::move(requested_uri)) {}

core::Result<LibvirtConnection> LibvirtConnection::open(const std::string& uri, Access access) {
  initialize_libvirt();
  const unsigned int flags = access == Access::read_only ? VIR_CONNECT_RO : 0;
  virConnectPtr connection =
      virConnectOpenAuth(uri.empty() ? nullptr : uri.c_str(), virConnectAuthPtrDefault, flags);
  if (connection == nullptr) {
    std::string where = "libvirt's default URI";
    if (!uri.empty()) {
      where = "'" + uri + "'";
    } else if (const char* from_environment = std::getenv("LIBVIRT_DEFAULT_URI");
               from_environment != nullptr && *from_environment != '\0') {
      where = "'" + std::string(from_environment) + "' (from LIBVIRT_DEFAULT_URI)";
    }
    return core::fail("connecting to libvirt at " + where + ": " + last_error(nullptr).message,
                      core::ExitCode::host_error);
  }
  return LibvirtConnection(connection, uri);
}

std::string LibvirtConnection::uri() const {
  if (!m_connection) return m_requested_uri;
  const LibvirtString text(virConnectGetURI(m_connection.get()));
  return text ? std::string(text.get()) : m_requested_uri;
}

core::Result<std::vector<NodeDeviceXml>> LibvirtConnection::pci_node_device_xml() const {
  if (!m_connection) {
    return core::fail("listing node devices: the libvirt connection is closed",
                      core::ExitCode::host_error);
  }
  NodeDeviceListing listing =
      list_node_devices(m_connection.get(), VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV);
  if (listing.error && listing.error->code == VIR_ERR_INVALID_ARG) {
    // Drivers without capability filters answer "unsupported flags": list
    // everything and let the parser drop what is not PCI.
    listing = list_node_devices(m_connection.get(), 0);
  }
  if (listing.error) {
    return core::fail("listing node devices at '" + uri() + "': " + listing.error->message,
                      core::ExitCode::host_error);
  }

  std::vector<NodeDeviceXml> descriptions;
  descriptions.reserve(listing.devices.size());
  for (const NodeDevice& device : listing.devices) {
    const char* name = virNodeDeviceGetName(device.get());
    const std::string device_name = name != nullptr ? name : "(unnamed)";
    const LibvirtString xml(virNodeDeviceGetXMLDesc(device.get(), 0));
    if (!xml) {
      const LibvirtError error = last_error(m_connection.get());
      // Unplugged between listing and reading: it is no longer part of the host.
      if (error.code == VIR_ERR_NO_NODE_DEVICE) continue;
      return core::fail("reading node device " + device_name + ": " + error.message,
                        core::ExitCode::host_error);
    }
    descriptions.push_back(NodeDeviceXml{device_name, xml.get()});
  }
  return descriptions;
}

}  // namespace pcipass::host
