#pragma once

// libvirt's node-device calls as the qemu driver makes them on its host,
// made on a simulated kernel: what the executor's binding through libvirt is
// tested against (libvirt's test driver has no detach or re-attach).

#include "support/simulated_kernel.hpp"

#include <pcipass/host/node_devices.hpp>

#include <string>
#include <vector>

namespace pcipass::test {

class SimulatedNodeDevices final : public host::NodeDevices {
public:
  SimulatedNodeDevices(SimulatedKernel& kernel, std::string uri)
      : m_kernel(kernel), m_uri(std::move(uri)) {}

  [[nodiscard]] std::string uri() const override { return m_uri; }
  [[nodiscard]] core::Result<std::optional<core::PciDevice>> read(
      const core::PciAddress& address) const override;
  // As libvirt's virPCIDeviceBindToStub: driver_override, unbind, probe.
  core::Status detach_to_vfio(const core::PciAddress& address) override;
  // As virPCIDeviceUnbindFromStub: unbind from vfio-pci, clear, probe.
  core::Status reattach(const core::PciAddress& address) override;

  // Every call made, "detach 0000:02:00.0" / "reattach 0000:02:00.0".
  std::vector<std::string> calls;

private:
  SimulatedKernel& m_kernel;
  std::string m_uri;
};

}  // namespace pcipass::test
