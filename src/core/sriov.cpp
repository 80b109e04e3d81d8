#include <pcipass/core/sriov.hpp>

#include <algorithm>

namespace pcipass::core {

unsigned enabled_vfs(const PciDevice& d) {
  if (d.sriov_num_vfs) return *d.sriov_num_vfs;
  return static_cast<unsigned>(d.virtual_functions.size());
}

std::string vfs_lost_by_unbinding(const PciDevice& pf) {
  const unsigned count = enabled_vfs(pf);
  if (count == 0 || pf.on_vfio()) return {};
  std::string text = "is an SR-IOV physical function with " + std::to_string(count) +
                     (count == 1 ? " virtual function" : " virtual functions") + " enabled";
  if (!pf.virtual_functions.empty()) {
    text += " (" + pf.virtual_functions.front().to_string();
    if (pf.virtual_functions.size() > 1)
      text += " and " + std::to_string(pf.virtual_functions.size() - 1) + " more";
    text += ")";
  }
  text += pf.driver.empty()
              ? std::string("; vfio-pci refuses a PF with SR-IOV enabled")
              : "; unbinding " + pf.driver +
                    " removes them from the host and from any guest using them";
  text += ". Set its VF count to 0 first (echo 0 > /sys/bus/pci/devices/" +
          pf.address.to_string() + "/sriov_numvfs), or pass its VFs instead";
  return text;
}

std::string sriov_relation(const PciDevice& d, const Inventory& inventory) {
  if (d.physical_function) {
    std::string text = "VF";
    if (const PciDevice* pf = inventory.find(*d.physical_function)) {
      const auto& vfs = pf->virtual_functions;
      const auto it = std::find(vfs.begin(), vfs.end(), d.address);
      if (it != vfs.end()) text += " " + std::to_string(it - vfs.begin());
    }
    return text + " of " + d.physical_function->to_string();
  }
  const unsigned count = enabled_vfs(d);
  if (count == 0) return {};
  return "PF of " + std::to_string(count) + (count == 1 ? " VF" : " VFs");
}

}  // namespace pcipass::core
