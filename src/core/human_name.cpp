#include <pcipass/core/human_name.hpp>

#include <pcipass/core/text.hpp>

#include <cctype>
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

namespace {

std::string without_quotes(std::string text) {
  std::erase(text, '"');
  std::erase(text, '\'');
  return text;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

std::string trimmed(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

// kdevops' GPU model: vendor names shortened, the marketing name in
// brackets preferred ("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]" gives
// "Radeon RX 6800/6800 XT / 6900 XT"), a size at its end dropped.
std::string gpu_model(const PciDevice& d) {
  std::string model = !d.device_name.empty() ? d.device_name
                      : !d.human_name.empty() ? d.human_name
                                              : d.ids();
  replace_all(model, "[AMD/ATI]", "AMD");
  replace_all(model, "Advanced Micro Devices, Inc.", "AMD");
  replace_all(model, "NVIDIA Corporation", "NVIDIA");
  replace_all(model, "Intel Corporation", "Intel");
  model = trimmed(model);
  const std::size_t open = model.find('[');
  const std::size_t close = open == std::string::npos ? open : model.find(']', open + 1);
  if (close != std::string::npos && close > open + 1) {
    const std::string inside = model.substr(open + 1, close - open - 1);
    const auto has = [&](std::string_view word) { return inside.find(word) != std::string::npos; };
    if (has("Radeon") || has("GeForce") || has("Intel")) {
      model = inside;
    } else if (model.find("AMD") != std::string::npos) {
      model = "AMD " + inside;
    } else if (model.find("NVIDIA") != std::string::npos && !has("Quadro")) {
      model = "NVIDIA " + inside;
    } else {
      model = inside;
    }
  }
  // " 32GB" at the end: the size is added from the device itself.
  std::size_t end = model.find_last_not_of(" \t");
  if (end != std::string::npos && end >= 2 && model.compare(end - 1, 2, "GB") == 0) {
    std::size_t digits = end - 1;
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(model[digits - 1]))) --digits;
    if (digits < end - 1 && digits > 0 && (model[digits - 1] == ' ' || model[digits - 1] == '\t'))
      model = trimmed(model.substr(0, digits));
  }
  return model;
}

}  // namespace

std::string kdevops_display_name(const PciDevice& d) {
  if (!d.nvme.empty()) {
    const NvmeController& c = d.nvme.front();
    if (!c.model.empty() && !c.firmware.empty())
      return without_quotes("/dev/" + c.name + " - " + c.model + " with FW " + c.firmware);
  }
  const auto cls = d.class_id();
  if (cls && (*cls >> 8) == 0x03) {  // display controllers
    std::string name = "GPU - " + gpu_model(d);
    constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;
    // kdevops takes VRAM of any size; under 1 GiB it would print "0GB".
    if (d.memory_bytes && *d.memory_bytes >= k_gib) {
      char size[32];
      std::snprintf(size, sizeof size, " %.0fGB", static_cast<double>(*d.memory_bytes) / k_gib);
      name += size;
    }
    return without_quotes(name);
  }
  for (const std::string* name : {&d.subsystem_name, &d.device_name, &d.human_name}) {
    if (std::string text = without_quotes(*name); !text.empty()) return text;
  }
  return d.ids().empty() ? "unknown device" : d.ids();
}

std::string kdevops_device_name(const PciDevice& d) {
  if (!d.iommu_group) return {};
  return d.address.to_string() + " IOMMU group " + std::to_string(*d.iommu_group) + " - " +
         kdevops_display_name(d);
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
