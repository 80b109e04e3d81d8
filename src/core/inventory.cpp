#include <pcipass/core/inventory.hpp>

namespace pcipass::core {

void Inventory::add(PciDevice device) {
  const PciAddress address = device.address;
  m_devices.insert_or_assign(address, std::move(device));
}

void Inventory::rebuild_groups() {
  m_groups.clear();
  // m_devices is ordered by address, so members come out sorted.
  for (const auto& [address, device] : m_devices) {
    if (!device.iommu_group) continue;
    IommuGroup& group = m_groups[*device.iommu_group];
    group.number = *device.iommu_group;
    group.members.push_back(address);
  }
}

const PciDevice* Inventory::find(const PciAddress& address) const {
  auto it = m_devices.find(address);
  return it == m_devices.end() ? nullptr : &it->second;
}

PciDevice* Inventory::find(const PciAddress& address) {
  auto it = m_devices.find(address);
  return it == m_devices.end() ? nullptr : &it->second;
}

const IommuGroup* Inventory::group(unsigned number) const {
  auto it = m_groups.find(number);
  return it == m_groups.end() ? nullptr : &it->second;
}

}  // namespace pcipass::core
