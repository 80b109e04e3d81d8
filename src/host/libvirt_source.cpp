#include <pcipass/host/libvirt_source.hpp>

#include <pcipass/core/nodedev_xml.hpp>

namespace pcipass::host {

core::Result<core::Inventory> read_libvirt_inventory(const LibvirtConnection& connection) {
  auto descriptions = connection.pci_node_device_xml();
  if (!descriptions) return core::fail(descriptions.error());
  core::Inventory inventory;
  for (const NodeDeviceXml& description : *descriptions) {
    auto device = core::parse_nodedev_xml(description.xml);
    if (!device) {
      return core::fail(device.error().with_context("reading node device " + description.name));
    }
    if (*device) inventory.add(std::move(**device));
  }
  inventory.rebuild_groups();
  return inventory;
}

}  // namespace pcipass::host
