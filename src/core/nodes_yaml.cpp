#include <pcipass/core/nodes_yaml.hpp>

#include <pcipass/core/text.hpp>

#include <yaml-cpp/yaml.h>

#include <set>

namespace pcipass::core {
namespace {

Unexpected bad(const YAML::Node& node, const std::string& what) {
  const YAML::Mark mark = node.Mark();
  std::string where = "kdevops nodes file";
  if (mark.line >= 0) where += " line " + std::to_string(mark.line + 1);
  return fail(where + ": " + what, ExitCode::bad_input);
}

Result<unsigned> address_part(const YAML::Node& entry, const std::string& entry_name,
                              const char* key, unsigned max) {
  const YAML::Node value = entry[key];
  const std::string where = "passthrough entry " + quote_for_message(entry_name);
  if (!value) return bad(entry, where + " has no '" + key + "'");
  if (!value.IsScalar()) return bad(value, where + ": '" + key + "' is not a number");
  const std::string text = value.Scalar();
  std::optional<std::uint64_t> number;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    number = parse_hex(text);
  } else if (auto d = parse_decimal(text); d && *d >= 0) {
    number = static_cast<std::uint64_t>(*d);
  }
  if (!number) {
    return bad(value, where + ": '" + key + "' is " + quote_for_message(text) +
                          ", expected a number such as 0x2d");
  }
  if (*number > max) {
    return bad(value, where + ": '" + key + "' " + quote_for_message(text) + " is above " +
                          hex(max, 2));
  }
  return static_cast<unsigned>(*number);
}

Result<GuestNode> parse_guest(const YAML::Node& node) {
  if (!node.IsMap()) return bad(node, "a guest entry is not a mapping");
  const YAML::Node name = node["name"];
  if (!name || !name.IsScalar() || name.Scalar().empty()) return bad(node, "a guest has no 'name'");
  GuestNode guest;
  guest.name = name.Scalar();
  const YAML::Node passthrough = node["pcipassthrough"];
  if (!passthrough || passthrough.IsNull()) return guest;
  if (!passthrough.IsMap()) {
    return bad(passthrough, "guest " + quote_for_message(guest.name) +
                                ": 'pcipassthrough' is not a mapping of named devices");
  }
  for (const auto& item : passthrough) {
    const std::string entry_name = item.first.IsScalar() ? item.first.Scalar() : "";
    const YAML::Node& entry = item.second;
    if (!entry.IsMap()) {
      return bad(entry, "passthrough entry " + quote_for_message(entry_name) +
                            " is not a mapping of domain, bus, slot and function");
    }
    auto domain = address_part(entry, entry_name, "domain", 0xffff);
    if (!domain) return fail(domain.error());
    auto bus = address_part(entry, entry_name, "bus", 0xff);
    if (!bus) return fail(bus.error());
    auto slot = address_part(entry, entry_name, "slot", 0x1f);
    if (!slot) return fail(slot.error());
    auto function = address_part(entry, entry_name, "function", 7);
    if (!function) return fail(function.error());
    NodePassthrough device{entry_name,
                           PciAddress{*domain, static_cast<std::uint8_t>(*bus),
                                      static_cast<std::uint8_t>(*slot),
                                      static_cast<std::uint8_t>(*function)}};
    if (const YAML::Node identity = entry["identity"]; identity && !identity.IsNull()) {
      if (!identity.IsScalar()) {
        return bad(identity, "passthrough entry " + quote_for_message(entry_name) +
                                 ": 'identity' is not a string");
      }
      auto parsed = DeviceIdentity::parse(identity.Scalar());
      if (!parsed) {
        return bad(identity, "passthrough entry " + quote_for_message(entry_name) + ": " +
                                 parsed.error().message);
      }
      device.identity = std::move(*parsed);
    }
    guest.passthrough.push_back(std::move(device));
  }
  return guest;
}

}  // namespace

Result<std::vector<GuestNode>> parse_nodes_yaml(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = "kdevops nodes file";
    if (e.mark.line >= 0) where += " line " + std::to_string(e.mark.line + 1);
    // yaml-cpp quotes the offending character, which may be a newline.
    return fail(where + ": not valid YAML: " + sanitize_untrusted(e.msg), ExitCode::bad_input);
  }
  try {
    if (!root.IsMap()) {
      return fail("kdevops nodes file: expected a mapping with 'guestfs_nodes:'", ExitCode::bad_input);
    }
    YAML::Node nodes = root["guestfs_nodes"];
    if (!nodes) nodes = root["vagrant_boxes"];
    if (!nodes) return bad(root, "no 'guestfs_nodes:' list of guests");
    if (!nodes.IsSequence()) return bad(nodes, "'guestfs_nodes' is not a list of guests");
    std::vector<GuestNode> guests;
    std::set<std::string> names;
    for (const YAML::Node& node : nodes) {
      auto guest = parse_guest(node);
      if (!guest) return fail(guest.error());
      if (!names.insert(guest->name).second) {
        return bad(node, "guest " + quote_for_message(guest->name) + " is listed twice");
      }
      guests.push_back(std::move(*guest));
    }
    return guests;
  } catch (const YAML::Exception& e) {
    return fail("kdevops nodes file: " + sanitize_untrusted(e.msg), ExitCode::bad_input);
  }
}

}  // namespace pcipass::core
