#pragma once

#include <pcipass/core/pci_device.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::core {

// Builds the name a person recognises a device by: the `/dev/nvme0n1` behind
// an NVMe controller with its model and firmware, a GPU's model and memory,
// a NIC's interfaces. Providers are tried in order; the first that returns a
// name wins, and the database device name is the fallback. Adding a kind of
// device means adding one provider.
class HumanNamer {
public:
  // A provider returns nullopt when it does not know this kind of device.
  using Provider = std::function<std::optional<std::string>(const PciDevice&)>;

  // A namer with the built-in providers (NVMe, GPU, NIC).
  static HumanNamer with_default_providers();

  void add_provider(std::string name, Provider provider);
  [[nodiscard]] std::string name(const PciDevice& device) const;

private:
  std::vector<std::pair<std::string, Provider>> m_providers;
};

// The providers HumanNamer::with_default_providers() installs; exposed so
// tests can call them one by one.
std::optional<std::string> nvme_human_name(const PciDevice& device);
std::optional<std::string> gpu_human_name(const PciDevice& device);
std::optional<std::string> nic_human_name(const PciDevice& device);

// The name kdevops' own generator gives a device in its passthrough menu,
// after "ADDR IOMMU group N - ", so that a kdevops user sees the names
// they know: for an NVMe controller with a model and firmware
// "/dev/nvme1 - MODEL with FW REV" (the controller, not a namespace); for
// a display controller "GPU - MODEL" with " NGB" when its memory (VRAM, or
// a prefetchable BAR) is 1 GiB or more; else the subsystem's name
// (lspci's SDevice), the device's name, or vendor:device. Quotes are
// dropped, as kdevops drops them. Untrusted text: callers sanitise.
std::string kdevops_display_name(const PciDevice& device);

// "0000:02:00.0 IOMMU group 9 - " + kdevops_display_name(device): kdevops'
// `_NAME` and `pcie_human_name`. A device without IOMMU group has no such name ("").
std::string kdevops_device_name(const PciDevice& device);

// "8 GiB", "512 MiB": a byte count for people.
std::string format_bytes(std::uint64_t bytes);

}  // namespace pcipass::core
