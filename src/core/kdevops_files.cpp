#include <pcipass/core/kdevops_files.hpp>

#include <pcipass/core/text.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace pcipass::core {

namespace {

bool is_identifier(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string address_key(const PciAddress& address) {
  std::string key = "pci_" + address.to_string();
  std::replace(key.begin(), key.end(), ':', '_');
  std::replace(key.begin(), key.end(), '.', '_');
  return key;
}

std::string finish(const YAML::Emitter& out) {
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace

std::string kdevops_extra_vars(const Assignment& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "pcie_passthrough_devices" << YAML::Value << YAML::BeginSeq;
  for (const GuestAssignment& guest : plan.guests) {
    for (const AssignedDevice& device : guest.devices) {
      const PciAddress& a = device.address;
      out << YAML::BeginMap;
      out << YAML::Key << "domain" << YAML::Value << YAML::DoubleQuoted << hex(a.domain, 4);
      out << YAML::Key << "bus" << YAML::Value << YAML::DoubleQuoted << hex(a.bus, 2);
      out << YAML::Key << "slot" << YAML::Value << YAML::DoubleQuoted << hex(a.slot, 2);
      out << YAML::Key << "function" << YAML::Value << YAML::DoubleQuoted << hex(a.function, 1);
      out << YAML::Key << "pcie_id" << YAML::Value << YAML::DoubleQuoted << a.to_string();
      out << YAML::Key << "iommu_group" << YAML::Value << YAML::DoubleQuoted
          << std::to_string(device.iommu_group);
      out << YAML::Key << "sdevice" << YAML::Value << YAML::DoubleQuoted
          << sanitize_untrusted(device.sdevice);
      out << YAML::Key << "pcie_human_name" << YAML::Value << YAML::DoubleQuoted
          << sanitize_untrusted(device.name);
      out << YAML::Key << "target_guest" << YAML::Value << YAML::DoubleQuoted << guest.guest;
      out << YAML::EndMap;
    }
  }
  out << YAML::EndSeq << YAML::EndMap;
  return finish(out);
}

std::string kdevops_node_entries(const Assignment& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "guestfs_nodes" << YAML::Value << YAML::BeginSeq;
  for (const GuestAssignment& guest : plan.guests) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted
        << guest.guest;
    out << YAML::Key << "pcipassthrough" << YAML::Value << YAML::BeginMap;
    std::set<std::string> used;
    for (const AssignedDevice& device : guest.devices) {
      std::string key = is_identifier(device.label) ? device.label : address_key(device.address);
      if (!used.insert(key).second) {
        key = address_key(device.address);
        used.insert(key);
      }
      const PciAddress& a = device.address;
      out << YAML::Key << YAML::DoubleQuoted << key << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "domain" << YAML::Value << hex(a.domain, 4);
      out << YAML::Key << "bus" << YAML::Value << hex(a.bus, 2);
      out << YAML::Key << "slot" << YAML::Value << hex(a.slot, 2);
      out << YAML::Key << "function" << YAML::Value << hex(a.function, 1);
      out << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return finish(out);
}

}  // namespace pcipass::core
