// dump_json_streaming() must give exactly the text dump_json() gives for the
// same document: `list --json` streams its devices, and scripts parse it.

#include <pcipass/core/inventory_json.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pcipass::core {
namespace {

std::string streamed(const nlohmann::json& document, const std::string& key,
                     const std::vector<nlohmann::json>& items) {
  std::size_t next = 0;
  std::string out;
  dump_json_streaming(
      document, key,
      [&]() -> std::optional<nlohmann::json> {
        if (next == items.size()) return std::nullopt;
        return items[next++];
      },
      [&](std::string_view piece) { out += piece; });
  return out;
}

std::string whole(nlohmann::json document, const std::string& key,
                  const std::vector<nlohmann::json>& items) {
  document[key] = nlohmann::json::array();
  for (const nlohmann::json& item : items) document[key].push_back(item);
  return dump_json(document);
}

TEST(InventoryJson, AStreamedArrayIsTheTextOfTheWholeDocument) {
  nlohmann::json doc;
  doc["schema"] = 1;
  doc["source"] = "sysfs:/x \"quoted\"\n";  // a line break inside a string stays escaped
  doc["iommu"] = true;
  doc["host"] = nlohmann::json::object({{"devices", nlohmann::json::array()}});  // same key, nested
  doc["zzz"] = nlohmann::json::array({1, 2});
  const nlohmann::json device = {
      {"address", "0000:01:00.0"},
      {"names", {{"vendor", "Intel"}, {"list", {1, 2, nlohmann::json::object()}}}},
      {"empty", nlohmann::json::array()},
      {"bad", std::string("\xff\xfe not UTF-8")},
      {"held_by", nullptr}};
  for (const std::size_t count : {0u, 1u, 3u}) {
    const std::vector<nlohmann::json> items(count, device);
    EXPECT_EQ(streamed(doc, "devices", items), whole(doc, "devices", items)) << count << " items";
  }
  // A key that sorts last, and one the document did not have yet.
  const std::vector<nlohmann::json> two{device, 7};
  EXPECT_EQ(streamed(doc, "zzz", two), whole(doc, "zzz", two));
  EXPECT_EQ(streamed(doc, "new", two), whole(doc, "new", two));
}

}  // namespace
}  // namespace pcipass::core
