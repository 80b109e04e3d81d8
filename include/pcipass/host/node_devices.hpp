#pragma once

// Binding through libvirt's node-device API (docs/architecture.md, "The OS
// boundary"): how the executor detaches and re-attaches a function on the
// host a libvirt connection reaches, which may be another machine. The
// real one calls libvirt; tests use one over the simulated kernel.

#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>
#include <pcipass/core/pci_device.hpp>

#include <optional>
#include <string>

namespace pcipass::host {

class LibvirtConnection;

class NodeDevices {
public:
  virtual ~NodeDevices() = default;

  // The URI the journal records for these calls (what -c named).
  [[nodiscard]] virtual std::string uri() const = 0;
  // The function as libvirt describes it now (ids, driver, IOMMU group, SR-IOV
  // links); nullopt when the host no longer has it.
  [[nodiscard]] virtual core::Result<std::optional<core::PciDevice>> read(
      const core::PciAddress& address) const = 0;
  // virNodeDeviceDetachFlags(pci_..., "vfio"): libvirt unbinds the function
  // from its driver and binds it to vfio-pci on its host.
  virtual core::Status detach_to_vfio(const core::PciAddress& address) = 0;
  // virNodeDeviceReAttach: libvirt takes the function off vfio-pci and lets
  // its host's kernel probe it again.
  virtual core::Status reattach(const core::PciAddress& address) = 0;
};

// NodeDevices over an open read-write connection. Errors carry libvirt's
// message and the URI; ExitCode::host_error.
class LibvirtNodeDevices final : public NodeDevices {
public:
  LibvirtNodeDevices(const LibvirtConnection& connection, std::string uri);

  [[nodiscard]] std::string uri() const override { return m_uri; }
  [[nodiscard]] core::Result<std::optional<core::PciDevice>> read(
      const core::PciAddress& address) const override;
  core::Status detach_to_vfio(const core::PciAddress& address) override;
  core::Status reattach(const core::PciAddress& address) override;

private:
  const LibvirtConnection& m_connection;
  std::string m_uri;
};

}  // namespace pcipass::host
