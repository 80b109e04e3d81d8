#pragma once

#include <pcipass/core/inventory.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

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

// What dump_json() gives for `document` with its top-level member `key` set
// to the array of the items `next_item` returns (nullopt after the last),
// handed to `sink` in pieces: each item is dumped and dropped before the
// next is made, so a 4096-function `list --json` never holds the whole
// array. `document` must be an object; its own `key`, if any, is ignored.
using JsonSink = std::function<void(std::string_view)>;
void dump_json_streaming(nlohmann::json document, const std::string& key,
                         const std::function<std::optional<nlohmann::json>()>& next_item,
                         const JsonSink& sink);

}  // namespace pcipass::core
