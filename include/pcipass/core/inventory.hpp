#pragma once

#include <pcipass/core/pci_device.hpp>

#include <map>
#include <vector>

namespace pcipass::core {

// An IOMMU group: the smallest set of functions the IOMMU can isolate. All
// its non-bridge members must go to the same guest.
struct IommuGroup {
  unsigned number = 0;
  std::vector<PciAddress> members;  // sorted
};

// Every PCI function of one host, by address, and the IOMMU groups they form.
// Sources build it; decisions only read it.
class Inventory {
public:
  // Adds `device`, replacing an earlier device at the same address.
  void add(PciDevice device);

  // Rebuilds the groups from the devices' `iommu_group` fields. Sources call
  // it once after adding every device.
  void rebuild_groups();

  [[nodiscard]] const std::map<PciAddress, PciDevice>& devices() const { return m_devices; }
  [[nodiscard]] std::map<PciAddress, PciDevice>& devices() { return m_devices; }
  [[nodiscard]] const std::map<unsigned, IommuGroup>& groups() const { return m_groups; }

  // The device at `address`, or nullptr.
  [[nodiscard]] const PciDevice* find(const PciAddress& address) const;
  [[nodiscard]] PciDevice* find(const PciAddress& address);
  // The group numbered `number`, or nullptr.
  [[nodiscard]] const IommuGroup* group(unsigned number) const;

  // False on hosts without an IOMMU (or with it disabled): no function has a group.
  [[nodiscard]] bool has_iommu_groups() const { return !m_groups.empty(); }

private:
  std::map<PciAddress, PciDevice> m_devices;
  std::map<unsigned, IommuGroup> m_groups;
};

}  // namespace pcipass::core
