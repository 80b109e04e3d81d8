#include "support/inventory_compare.hpp"

#include <pcipass/core/text.hpp>

namespace pcipass::test {

namespace {

template <typename T>
std::string opt_hex(const std::optional<T>& v, int digits) {
  return v ? core::hex(*v, digits) : "-";
}

template <typename T>
std::string opt_dec(const std::optional<T>& v) {
  return v ? std::to_string(*v) : "-";
}

}  // namespace

std::map<std::string, std::string> device_fields(const core::PciDevice& d) {
  std::map<std::string, std::string> f;
  f["vendor_id"] = opt_hex(d.vendor_id, 4);
  f["device_id"] = opt_hex(d.device_id, 4);
  f["subsystem_vendor_id"] = opt_hex(d.subsystem_vendor_id, 4);
  f["subsystem_device_id"] = opt_hex(d.subsystem_device_id, 4);
  f["class"] = opt_hex(d.class_code, 6);
  f["revision"] = opt_hex(d.revision, 2);
  f["vendor_name"] = d.vendor_name;
  f["device_name"] = d.device_name;
  f["class_name"] = d.class_name;
  f["driver"] = d.driver;
  f["iommu_group"] = opt_dec(d.iommu_group);
  f["numa_node"] = opt_dec(d.numa_node);
  f["kind"] = d.header == core::HeaderKind::bridge     ? "bridge"
              : d.header == core::HeaderKind::endpoint ? "endpoint"
                                                       : "unknown";
  f["physical_function"] = d.physical_function ? d.physical_function->to_string() : "-";
  std::string vfs;
  for (const auto& vf : d.virtual_functions) vfs += vf.to_string() + " ";
  f["virtual_functions"] = vfs;
  f["sriov_total_vfs"] = opt_dec(d.sriov_total_vfs);
  f["human_name"] = d.human_name;
  std::string uses;
  for (const auto& u : d.host_uses) uses += u + "; ";
  f["host_uses"] = uses;
  return f;
}

std::vector<std::string> inventory_differences(const core::Inventory& a, const core::Inventory& b,
                                               const std::set<std::string>& fields) {
  std::vector<std::string> out;
  for (const auto& [address, da] : a.devices()) {
    const core::PciDevice* db = b.find(address);
    if (db == nullptr) {
      out.push_back(address.to_string() + " only in the first inventory");
      continue;
    }
    const auto fa = device_fields(da);
    const auto fb = device_fields(*db);
    for (const std::string& field : fields) {
      const std::string& va = fa.at(field);
      const std::string& vb = fb.at(field);
      if (va != vb) out.push_back(address.to_string() + " " + field + ": '" + va + "' vs '" + vb + "'");
    }
  }
  for (const auto& [address, db] : b.devices()) {
    if (a.find(address) == nullptr) out.push_back(address.to_string() + " only in the second inventory");
  }
  return out;
}

}  // namespace pcipass::test
