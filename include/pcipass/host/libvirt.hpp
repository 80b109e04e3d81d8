#pragma once

#include <pcipass/core/error.hpp>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <string>
#include <vector>

namespace pcipass::host {

// The error of the libvirt call that just failed in this thread: libvirt's
// code (virErrorNumber) and its message on one line.
struct LibvirtError {
  int code = VIR_ERR_OK;
  std::string message;
};
LibvirtError last_libvirt_error(virConnectPtr connection);

// One node device as libvirt describes it: its name (`pci_0000_00_02_0`) and
// the XML of `virsh nodedev-dumpxml`.
struct NodeDeviceXml {
  std::string name;
  std::string xml;
};

// A connection to libvirt, closed when the object goes. Errors carry
// libvirt's own message and use ExitCode::host_error. libvirt's habit of
// printing errors to stderr is switched off: pcipass reports them itself.
class LibvirtConnection {
public:
  enum class Access { read_only, read_write };

  // Connects to `uri`; an empty `uri` lets libvirt choose (LIBVIRT_DEFAULT_URI,
  // then its built-in default). Fails with `connecting to libvirt at 'URI':
  // <libvirt's reason>`.
  static core::Result<LibvirtConnection> open(const std::string& uri, Access access);

  LibvirtConnection(LibvirtConnection&&) noexcept = default;
  LibvirtConnection& operator=(LibvirtConnection&&) noexcept = default;
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;
  ~LibvirtConnection() = default;

  // The URI libvirt actually connected to (`qemu:///system`), or the one
  // asked for when libvirt cannot tell.
  [[nodiscard]] std::string uri() const;

  // The XML of every PCI node device. Drivers that reject the PCI filter flag
  // are asked for all devices instead, so the result may hold other devices
  // too; the parser drops them. A device that disappears while being read is
  // skipped. Fails with libvirt's message when listing or reading fails.
  [[nodiscard]] core::Result<std::vector<NodeDeviceXml>> pci_node_device_xml() const;

  // The underlying connection for wrappers still to come; owned by this
  // object, null after a move.
  [[nodiscard]] virConnectPtr raw() const { return m_connection.get(); }

private:
  struct Closer {
    void operator()(virConnectPtr connection) const;
  };

  LibvirtConnection(virConnectPtr connection, std::string requested_uri);

  std::unique_ptr<virConnect, Closer> m_connection;
  std::string m_requested_uri;
};

}  // namespace pcipass::host
