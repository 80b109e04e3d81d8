#pragma once

// Compares inventories from different sources field by field, over the
// fields both sources can provide, so a test failure names the device and
// the field that differ.

#include <pcipass/core/inventory.hpp>

#include <map>
#include <set>
#include <string>

namespace pcipass::test {

// Every field of a device rendered as text, keyed by field name
// ("vendor_id", "driver", "iommu_group", "human_name", "host_uses", ...).
std::map<std::string, std::string> device_fields(const core::PciDevice& device);

// Lines describing each difference between `a` and `b` over `fields`
// (address sets always), e.g. "0000:01:00.0 driver: 'nvme' vs ''". Empty
// when they agree.
std::vector<std::string> inventory_differences(const core::Inventory& a, const core::Inventory& b,
                                               const std::set<std::string>& fields);

}  // namespace pcipass::test
