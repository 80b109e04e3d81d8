#include "support/simulated_node_devices.hpp"

#include <pcipass/host/sysfs_source.hpp>

namespace pcipass::test {

core::Result<std::optional<core::PciDevice>> SimulatedNodeDevices::read(
    const core::PciAddress& address) const {
  if (!m_kernel.exists("bus/pci/devices/" + address.to_string()))
    return std::optional<core::PciDevice>();
  auto device = host::read_sysfs_device(m_kernel, address);
  if (!device) return core::fail(device.error());
  return std::optional<core::PciDevice>(std::move(*device));
}

core::Status SimulatedNodeDevices::detach_to_vfio(const core::PciAddress& address) {
  const std::string name = address.to_string();
  calls.push_back("detach " + name);
  if (auto ok = m_kernel.write("bus/pci/devices/" + name + "/driver_override", "vfio-pci"); !ok)
    return ok;
  if (const std::string driver = m_kernel.driver_of(name); !driver.empty()) {
    if (auto ok = m_kernel.write("bus/pci/drivers/" + driver + "/unbind", name); !ok) return ok;
  }
  return m_kernel.write("bus/pci/drivers_probe", name);
}

core::Status SimulatedNodeDevices::reattach(const core::PciAddress& address) {
  const std::string name = address.to_string();
  calls.push_back("reattach " + name);
  if (m_kernel.driver_of(name) == "vfio-pci") {
    if (auto ok = m_kernel.write("bus/pci/drivers/vfio-pci/unbind", name); !ok) return ok;
  }
  if (auto ok = m_kernel.write("bus/pci/devices/" + name + "/driver_override", "\n"); !ok)
    return ok;
  return m_kernel.write("bus/pci/drivers_probe", name);
}

}  // namespace pcipass::test
