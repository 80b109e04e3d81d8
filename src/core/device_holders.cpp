#include <pcipass/core/device_holders.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>

namespace pcipass::core {

DeviceHolders holders_of(const std::vector<DomainDevices>& domains) {
  DeviceHolders out;
  const auto holder = [&](const PciAddress& address, const DomainDevices& domain) -> DeviceHolder& {
    std::vector<DeviceHolder>& list = out[address];
    for (DeviceHolder& h : list) {
      if (h.domain == domain.name) return h;
    }
    list.push_back(DeviceHolder{domain.name, domain.running, false, false});
    return list.back();
  };
  for (const DomainDevices& domain : domains) {
    for (const PciAddress& address : domain.config) holder(address, domain).in_config = true;
    for (const PciAddress& address : domain.live) holder(address, domain).in_live = true;
  }
  for (auto& [address, list] : out) {
    std::sort(list.begin(), list.end(),
              [](const DeviceHolder& a, const DeviceHolder& b) { return a.domain < b.domain; });
  }
  return out;
}

std::string describe_holders(const std::vector<DeviceHolder>& holders) {
  if (holders.empty()) return {};
  std::vector<std::string> names;
  for (const DeviceHolder& h : holders) {
    std::string name = quote_for_message(h.domain);
    // A running guest that got it hot-plugged, or whose definition has it
    // only for its next start, says so.
    if (h.running && h.in_live && !h.in_config) {
      name += " (running, hot-plugged)";
    } else if (h.running && h.in_live) {
      name += " (running)";
    } else if (h.running) {
      name += " (at its next start)";
    }
    names.push_back(name);
  }
  std::string text = holders.size() == 1 ? "guest " : "guests ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " and " : ", ";
    text += names[i];
  }
  return text;
}

nlohmann::json holders_to_json(const std::vector<DeviceHolder>& holders) {
  nlohmann::json out = nlohmann::json::array();
  for (const DeviceHolder& h : holders) {
    out.push_back({{"domain", h.domain},
                   {"running", h.running},
                   {"in_config", h.in_config},
                   {"in_live", h.in_live}});
  }
  return out;
}

std::vector<DeviceHolder> other_holders(const DeviceHolders& holders, const PciAddress& address,
                                        const std::string& guest) {
  std::vector<DeviceHolder> out;
  const auto it = holders.find(address);
  if (it == holders.end()) return out;
  for (const DeviceHolder& h : it->second) {
    if (h.domain != guest) out.push_back(h);
  }
  return out;
}

std::vector<std::string> held_elsewhere(
    const DeviceHolders& holders, const std::vector<std::pair<PciAddress, std::string>>& wanted) {
  std::vector<std::string> problems;
  for (const auto& [address, guest] : wanted) {
    const std::vector<DeviceHolder> others = other_holders(holders, address, guest);
    if (others.empty()) continue;
    const bool running = std::any_of(others.begin(), others.end(),
                                     [](const DeviceHolder& h) { return h.running && h.in_live; });
    problems.push_back(address.to_string() + " is held by " + describe_holders(others) + ", not " +
                       quote_for_message(guest) + "; " +
                       (running ? "it would be taken from a running guest"
                                : "both would claim it when they start"));
  }
  return problems;
}

}  // namespace pcipass::core
