#pragma once

#include <pcipass/core/inventory.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace pcipass::core {

// The version of the JSON documents `list --json` and `groups --json` print.
// docs/json.md describes the schema; later versions only add fields.
inline constexpr int k_json_schema_version = 1;

// One device of `inventory` as `list --json` prints it (a VF's identity
// takes its card's serials from its PF there).
nlohmann::json device_to_json(const PciDevice& device, const Inventory& inventory);

// The whole `list --json` document: {"schema", "source", "iommu", "devices"}.
nlohmann::json inventory_to_json(const Inventory& inventory, const std::string& source);

// The whole `groups --json` document: {"schema", "source", "iommu", "groups"}.
nlohmann::json groups_to_json(const Inventory& inventory, const std::string& source);

// Serialises with invalid UTF-8 replaced, so the output always parses.
std::string dump_json(const nlohmann::json& document);

}  // namespace pcipass::core
