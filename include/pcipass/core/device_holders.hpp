#pragma once

// Which guests hold each host PCI device. libvirt lets two defined guests
// name the same device and complains only when the second one starts; by
// then the wrong guest may have had it. pcipass reads every domain of the
// connection (its persistent definition and, when it runs, the running
// guest) and refuses to give a device to one guest while another holds it.

#include <pcipass/core/pci_address.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace pcipass::core {

// The PCI devices one domain takes, as libvirt describes it.
struct DomainDevices {
  std::string name;
  bool running = false;
  std::vector<PciAddress> config;  // in its persistent definition (none for a transient guest)
  std::vector<PciAddress> live;    // in the running guest (none when it is off)
};

// One domain holding one device.
struct DeviceHolder {
  std::string domain;
  bool running = false;    // the domain runs now
  bool in_config = false;  // its persistent definition names the device
  bool in_live = false;    // the running guest has it
  bool operator==(const DeviceHolder&) const = default;
};

// The holders of each device, each list in domain-name order.
using DeviceHolders = std::map<PciAddress, std::vector<DeviceHolder>>;

DeviceHolders holders_of(const std::vector<DomainDevices>& domains);

// "guest 'a' (running)" or "guests 'a' (running) and 'b'": for listings and
// messages. "" for no holder.
std::string describe_holders(const std::vector<DeviceHolder>& holders);

// [{"domain": "web", "running": true, "in_config": true, "in_live": true}]:
// `list --json`'s `held_by`.
nlohmann::json holders_to_json(const std::vector<DeviceHolder>& holders);

// The holders of `address` other than `guest`, or an empty list.
std::vector<DeviceHolder> other_holders(const DeviceHolders& holders, const PciAddress& address,
                                        const std::string& guest);

// One line per device of `wanted` (address, guest) that another domain
// holds, for a refusal: "0000:02:00.0 is held by guest 'b' (running), not
// 'a'; it would be taken from a running guest".
std::vector<std::string> held_elsewhere(
    const DeviceHolders& holders, const std::vector<std::pair<PciAddress, std::string>>& wanted);

}  // namespace pcipass::core
