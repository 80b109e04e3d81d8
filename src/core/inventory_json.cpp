#include <pcipass/core/inventory_json.hpp>

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/group_status.hpp>
#include <pcipass/core/text.hpp>

namespace pcipass::core {
namespace {

template <typename T>
nlohmann::json hex_or_null(const std::optional<T>& value, int digits) {
  return value ? nlohmann::json(hex(*value, digits)) : nlohmann::json(nullptr);
}

template <typename T>
nlohmann::json value_or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json string_or_null(const std::string& value) {
  return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
}

}  // namespace

nlohmann::json device_to_json(const PciDevice& d, const Inventory& inventory) {
  nlohmann::json j;
  j["address"] = d.address.to_string();
  j["vendor_id"] = hex_or_null(d.vendor_id, 4);
  j["device_id"] = hex_or_null(d.device_id, 4);
  j["subsystem_vendor_id"] = hex_or_null(d.subsystem_vendor_id, 4);
  j["subsystem_device_id"] = hex_or_null(d.subsystem_device_id, 4);
  j["class"] = hex_or_null(d.class_code, 6);
  j["revision"] = hex_or_null(d.revision, 2);
  j["vendor_name"] = string_or_null(d.vendor_name);
  j["device_name"] = string_or_null(d.device_name);
  j["subsystem_vendor_name"] = string_or_null(d.subsystem_vendor_name);
  j["subsystem_name"] = string_or_null(d.subsystem_name);
  j["class_name"] = string_or_null(d.class_name);
  j["human_name"] = d.human_name;
  j["kind"] = d.kind_name();
  j["driver"] = string_or_null(d.driver);
  j["iommu_group"] = value_or_null(d.iommu_group);
  j["numa_node"] = value_or_null(d.numa_node);
  j["physical_function"] =
      d.physical_function ? nlohmann::json(d.physical_function->to_string()) : nlohmann::json(nullptr);
  j["virtual_functions"] = nlohmann::json::array();
  for (const PciAddress& vf : d.virtual_functions) j["virtual_functions"].push_back(vf.to_string());
  j["sriov_total_vfs"] = value_or_null(d.sriov_total_vfs);
  j["sriov_num_vfs"] = value_or_null(d.sriov_num_vfs);
  j["nvme"] = nlohmann::json::array();
  for (const NvmeController& c : d.nvme) {
    j["nvme"].push_back({{"controller", c.name},
                         {"model", c.model},
                         {"firmware", c.firmware},
                         {"serial", c.serial},
                         {"namespaces", c.namespaces}});
  }
  j["net"] = nlohmann::json::array();
  for (const NetInterface& n : d.net) {
    j["net"].push_back({{"name", n.name},
                        {"operstate", string_or_null(n.operstate)},
                        {"mac", string_or_null(n.mac)},
                        {"mac_permanent", n.mac_permanent}});
  }
  j["identity"] = identity_of(d, inventory).to_json();
  j["reset_methods"] = d.reset_methods ? nlohmann::json(*d.reset_methods) : nlohmann::json(nullptr);
  j["memory_bytes"] = value_or_null(d.memory_bytes);
  j["memory_source"] = !d.memory_bytes ? nlohmann::json(nullptr)
                       : d.memory_source == MemorySource::driver ? nlohmann::json("driver")
                                                                 : nlohmann::json("prefetchable-bar");
  j["boot_vga"] = d.boot_vga;
  j["status"] = device_status(d);
  j["host_uses"] = d.host_uses;
  j["host_usage_unknown"] = string_or_null(d.host_usage_unknown);
  return j;
}

nlohmann::json inventory_to_json(const Inventory& inventory, const std::string& source) {
  nlohmann::json j;
  j["schema"] = k_json_schema_version;
  j["source"] = source;
  j["iommu"] = inventory.has_iommu_groups();
  j["devices"] = nlohmann::json::array();
  for (const auto& [address, device] : inventory.devices()) {
    j["devices"].push_back(device_to_json(device, inventory));
  }
  return j;
}

nlohmann::json groups_to_json(const Inventory& inventory, const std::string& source) {
  nlohmann::json j;
  j["schema"] = k_json_schema_version;
  j["source"] = source;
  j["iommu"] = inventory.has_iommu_groups();
  j["groups"] = nlohmann::json::array();
  for (const auto& [number, group] : inventory.groups()) {
    const GroupStatus status = assess_group(inventory, group);
    nlohmann::json members = nlohmann::json::array();
    for (const PciAddress& a : group.members) {
      const PciDevice* d = inventory.find(a);
      members.push_back({{"address", a.to_string()},
                         {"human_name", d ? d->human_name : ""},
                         {"kind", d ? d->kind_name() : "unknown"},
                         {"driver", d ? string_or_null(d->driver) : nlohmann::json(nullptr)},
                         {"status", d ? device_status(*d) : "unknown"},
                         {"reset_methods", d && d->reset_methods ? nlohmann::json(*d->reset_methods)
                                                                 : nlohmann::json(nullptr)}});
    }
    nlohmann::json endpoints = nlohmann::json::array();
    for (const PciAddress& a : status.endpoints) endpoints.push_back(a.to_string());
    j["groups"].push_back({{"group", number},
                           {"members", members},
                           {"endpoints", endpoints},
                           {"passthrough", to_string(status.readiness)},
                           {"reasons", status.reasons}});
  }
  return j;
}

std::string dump_json(const nlohmann::json& document) {
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void dump_json_streaming(nlohmann::json document, const std::string& key,
                         const std::function<std::optional<nlohmann::json>()>& next_item,
                         const JsonSink& sink) {
  document[key] = nlohmann::json::array();
  const std::string text = dump_json(document);
  // A top-level member sits on its own line, indented by two spaces; no
  // string in the text holds a raw line break, so this is that member.
  const std::string member = "\n  " + nlohmann::json(key).dump() + ": []";
  const std::size_t at = text.find(member);
  const std::size_t open = at + member.size() - 1;  // the ']' of "[]"
  sink(std::string_view(text).substr(0, open));
  bool first = true;
  std::string piece;
  while (std::optional<nlohmann::json> item = next_item()) {
    const std::string dumped = item->dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    piece.assign(first ? "\n    " : ",\n    ");
    // Each line one level deeper, as inside the array.
    for (const char ch : dumped) {
      piece += ch;
      if (ch == '\n') piece += "    ";
    }
    sink(piece);
    first = false;
  }
  if (!first) sink("\n  ");
  sink(std::string_view(text).substr(open));
}

}  // namespace pcipass::core
