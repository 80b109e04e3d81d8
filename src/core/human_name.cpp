#include <pcipass/core/human_name.hpp>

#include <pcipass/core/text.hpp>

#include <cstdio>

namespace pcipass::core {
namespace {

// "Vendor Device" with lspci's fallbacks when a name is missing.
std::string database_name(const PciDevice& d) {
  std::string vendor = d.vendor_name;
  std::string device = d.device_name;
  if (vendor.empty() && d.vendor_id) vendor = "Vendor " + hex(*d.vendor_id, 4).substr(2);
  if (device.empty() && d.device_id) device = "Device " + hex(*d.device_id, 4).substr(2);
  if (vendor.empty()) return device.empty() ? d.class_name : device;
  if (device.empty()) return vendor;
  return vendor + " " + device;
}

std::string hex_local(std::uint64_t value, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llx", digits, static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (value == static_cast<double>(static_cast<std::uint64_t>(value))) {
    std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(value), k_units[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, k_units[unit]);
  }
  return buf;
}

std::optional<std::string> nvme_human_name(const PciDevice& d) {
  if (d.nvme.empty()) return std::nullopt;
  std::string out;
  for (const NvmeController& c : d.nvme) {
    if (!out.empty()) out += ", ";
    std::string dev = c.namespaces.empty() ? "/dev/" + c.name : "/dev/" + c.namespaces.front();
    out += dev;
    if (c.namespaces.size() > 1) out += " (+" + std::to_string(c.namespaces.size() - 1) + " namespaces)";
    if (!c.model.empty()) out += " - " + c.model;
    if (!c.firmware.empty()) out += (c.model.empty() ? " - FW " : " with FW ") + c.firmware;
  }
  return out;
}

std::optional<std::string> gpu_human_name(const PciDevice& d) {
  const auto cls = d.class_id();
  if (!cls || (*cls >> 8) != 0x03) return std::nullopt;  // display controllers
  std::string out = database_name(d);
  if (d.memory_bytes) {
    out += " with " + format_bytes(*d.memory_bytes);
    if (d.memory_source == MemorySource::prefetchable_bar) out += " BAR";
  }
  return out;
}

std::optional<std::string> nic_human_name(const PciDevice& d) {
  if (d.net.empty()) return std::nullopt;
  std::string out = database_name(d) + " (";
  for (std::size_t i = 0; i < d.net.size(); ++i) {
    if (i > 0) out += ", ";
    out += d.net[i].name;
    if (!d.net[i].operstate.empty() && d.net[i].operstate != "unknown") {
      out += " " + d.net[i].operstate;
    }
  }
  return out + ")";
}

HumanNamer HumanNamer::with_default_providers() {
  HumanNamer namer;
  namer.add_provider("nvme", nvme_human_name);
  namer.add_provider("gpu", gpu_human_name);
  namer.add_provider("nic", nic_human_name);
  return namer;
}

void HumanNamer::add_provider(std::string name, Provider provider) {
  m_providers.emplace_back(std::move(name), std::move(provider));
}

std::string HumanNamer::name(const PciDevice& device) const {
  for (const auto& [provider_name, provider] : m_providers) {
    if (auto n = provider(device)) return *n;
  }
  std::string fallback = database_name(device);
  if (fallback.empty() && device.vendor_id && device.device_id) {
    fallback = hex_local(*device.vendor_id, 4) + ":" + hex_local(*device.device_id, 4);
  }
  return fallback;
}

}  // namespace pcipass::core
