#include <pcipass/core/device_names.hpp>

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <set>

namespace pcipass::core {

namespace {

constexpr std::string_view k_understood =
    "give an address (0000:02:00.0), pci_DDDD_BB_SS_F, serial:SERIAL, an NVMe device "
    "(/dev/nvme1n1, nvme1) or a network interface (enp5s0)";

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// nvme1n1p2 -> nvme1n1: a partition names its disk.
std::string_view without_partition(std::string_view name) {
  const std::size_t p = name.rfind('p');
  if (p == std::string_view::npos || p == 0 || !all_digits(name.substr(p + 1))) return name;
  return name.substr(0, p);
}

// Whether `device` answers to `name` (already without `/dev/`).
bool answers_to(const PciDevice& device, std::string_view name) {
  for (const NvmeController& c : device.nvme) {
    if (c.name == name) return true;
    const std::string_view disk = without_partition(name);
    if (std::find(c.namespaces.begin(), c.namespaces.end(), disk) != c.namespaces.end()) return true;
  }
  return std::any_of(device.net.begin(), device.net.end(),
                     [&](const NetInterface& n) { return n.name == name; });
}

bool has_serial(const PciDevice& device, std::string_view serial) {
  // The device's own serials: a VF does not answer to its card's.
  const DeviceIdentity id = identity_of(device, nullptr);
  return !serial.empty() && (id.nvme_serial == serial || id.dsn == serial || id.mac == serial ||
                             id.vpd_serial == serial);
}

}  // namespace

bool is_device_name(std::string_view text) {
  if (text.starts_with("serial:") || text.starts_with("/dev/")) return true;
  if (text.empty() || text.starts_with("pci_") || text.find(':') != std::string_view::npos) {
    return false;
  }
  const char first = text.front();
  return (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z');
}

Result<PciAddress> resolve_device_name(std::string_view text, const Inventory& inventory) {
  if (auto address = PciAddress::parse(text)) return *address;
  std::set<PciAddress> matches;
  const bool by_serial = text.starts_with("serial:");
  if (by_serial) {
    const std::string_view serial = trim(text.substr(7));
    for (const auto& [address, device] : inventory.devices()) {
      if (has_serial(device, serial)) matches.insert(address);
    }
  } else {
    std::string_view name = text;
    if (name.starts_with("/dev/")) name.remove_prefix(5);
    for (const auto& [address, device] : inventory.devices()) {
      if (!name.empty() && answers_to(device, name)) matches.insert(address);
    }
  }
  const std::string what = quote_for_message(text);
  if (matches.empty()) {
    return fail(what + ": no device on this host has that " + (by_serial ? "serial" : "name") +
                    " (" + std::string(k_understood) + ")",
                ExitCode::usage);
  }
  if (matches.size() > 1) {
    std::vector<std::string> listed;
    for (const PciAddress& a : matches) listed.push_back(a.to_string());
    return fail(what + " names several devices: " + join(listed, ", ") + "; give the address",
                ExitCode::usage);
  }
  return *matches.begin();
}

}  // namespace pcipass::core
