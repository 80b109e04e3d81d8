#include <pcipass/core/nodedev_xml.hpp>

#include <pcipass/core/text.hpp>

#include <pugixml.hpp>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

namespace pcipass::core {
namespace {

Unexpected bad(const std::string& why) { return fail(why, ExitCode::bad_input); }

// The `<domain>`, `<bus>`, `<slot>` and `<function>` elements: libvirt writes
// and reads them in decimal; `0x` hex is accepted too.
std::optional<std::uint64_t> parse_element_number(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) return parse_hex(text);
  const auto value = parse_decimal(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*value);
}

// `<address>` attributes, read the way libvirt reads them (strtoul base 0):
// `0x` hex as libvirt writes them, a leading 0 octal, else decimal.
std::optional<std::uint64_t> parse_attribute_number(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) return parse_hex(text);
  if (text.size() > 1 && text.front() == '0') {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
  }
  return parse_element_number(text);
}

// Reads one of the decimal address elements of the pci capability.
Result<std::uint32_t> address_element(const pugi::xml_node& capability, const char* name,
                                      std::uint64_t max) {
  const pugi::xml_node element = capability.child(name);
  if (!element) return bad("pci capability has no <" + std::string(name) + ">");
  const std::string_view text = trim(element.child_value());
  const auto value = parse_element_number(text);
  if (!value) {
    return bad("pci capability <" + std::string(name) + "> " + quote_for_message(text) + " is not a number");
  }
  if (*value > max) {
    return bad("pci capability <" + std::string(name) + "> " + std::to_string(*value) +
               " is above " + std::to_string(max));
  }
  return static_cast<std::uint32_t>(*value);
}

// Reads an `<address domain= bus= slot= function=/>` inside `where`
// (`<iommuGroup>`, `<phys_function>`, `<virt_functions>`).
Result<PciAddress> address_attributes(const pugi::xml_node& address, const std::string& where) {
  struct Part {
    const char* name;
    std::uint64_t max;
    std::uint64_t value = 0;
  };
  Part parts[] = {{"domain", 0xffffffff}, {"bus", 0xff}, {"slot", 0x1f}, {"function", 7}};
  for (Part& part : parts) {
    const pugi::xml_attribute attribute = address.attribute(part.name);
    if (!attribute) return bad(where + " <address> has no " + part.name + " attribute");
    const std::string_view text = trim(attribute.value());
    const auto value = parse_attribute_number(text);
    if (!value) {
      return bad(where + " <address> " + part.name + " " + quote_for_message(text) + " is not a number");
    }
    if (*value > part.max) {
      return bad(where + " <address> " + part.name + " " + hex(*value, 1) + " is above " +
                 hex(part.max, 1));
    }
    part.value = *value;
  }
  PciAddress result;
  result.domain = static_cast<std::uint32_t>(parts[0].value);
  result.bus = static_cast<std::uint8_t>(parts[1].value);
  result.slot = static_cast<std::uint8_t>(parts[2].value);
  result.function = static_cast<std::uint8_t>(parts[3].value);
  return result;
}

struct IdAndName {
  std::uint16_t id = 0;
  std::string name;
};

// Reads `<vendor id='0x8086'>name</vendor>` or `<product ...>`: the id in hex
// with or without `0x`, as libvirt parses it, and the database name.
Result<IdAndName> read_id(const pugi::xml_node& capability, const char* element_name) {
  const pugi::xml_node element = capability.child(element_name);
  const pugi::xml_attribute attribute = element.attribute("id");
  if (!attribute) return bad("pci capability has no <" + std::string(element_name) + " id=...>");
  const std::string_view text = trim(attribute.value());
  const auto value = parse_hex(text);
  if (!value || *value > 0xffff) {
    return bad("pci capability <" + std::string(element_name) + "> id " + quote_for_message(text) +
               " is not a 16-bit hex number");
  }
  return IdAndName{static_cast<std::uint16_t>(*value), sanitize_untrusted(element.child_value())};
}

// An optional decimal attribute of `node`, named `where` in messages.
Result<std::optional<unsigned>> unsigned_attribute(const pugi::xml_node& node, const char* name,
                                                   const std::string& where,
                                                   const std::string& what) {
  const pugi::xml_attribute attribute = node.attribute(name);
  if (!attribute) return std::optional<unsigned>{};
  const std::string_view text = trim(attribute.value());
  const auto value = parse_decimal(text);
  if (!value || *value < 0 || *value > std::numeric_limits<unsigned>::max()) {
    return bad(where + " " + name + " " + quote_for_message(text) + " is not " + what);
  }
  return std::optional<unsigned>(static_cast<unsigned>(*value));
}

Result<PciDevice> parse_pci_capability(const pugi::xml_node& device_node,
                                       const pugi::xml_node& capability) {
  PciDevice device;
  auto domain = address_element(capability, "domain", 0xffffffff);
  if (!domain) return fail(domain.error());
  auto bus = address_element(capability, "bus", 255);
  if (!bus) return fail(bus.error());
  auto slot = address_element(capability, "slot", 31);
  if (!slot) return fail(slot.error());
  auto function = address_element(capability, "function", 7);
  if (!function) return fail(function.error());
  device.address.domain = *domain;
  device.address.bus = static_cast<std::uint8_t>(*bus);
  device.address.slot = static_cast<std::uint8_t>(*slot);
  device.address.function = static_cast<std::uint8_t>(*function);

  if (const pugi::xml_node class_node = capability.child("class")) {
    const std::string_view text = trim(class_node.child_value());
    const auto value = parse_hex(text);
    if (!value || *value > 0xffffff) {
      return bad("pci capability <class> " + quote_for_message(text) + " is not a 24-bit hex class code");
    }
    device.class_code = static_cast<std::uint32_t>(*value);
  }
  auto vendor = read_id(capability, "vendor");
  if (!vendor) return fail(vendor.error());
  device.vendor_id = vendor->id;
  device.vendor_name = std::move(vendor->name);
  auto product = read_id(capability, "product");
  if (!product) return fail(product.error());
  device.device_id = product->id;
  device.device_name = std::move(product->name);
  device.driver = sanitize_untrusted(device_node.child("driver").child("name").child_value());

  if (const pugi::xml_node group = capability.child("iommuGroup")) {
    auto number = unsigned_attribute(group, "number", "<iommuGroup>", "a group number");
    if (!number) return fail(number.error());
    if (!*number) return bad("<iommuGroup> has no number attribute");
    device.iommu_group = **number;
    // The inventory rebuilds groups from every device's number; the member
    // list only has to be readable.
    for (const pugi::xml_node member : group.children("address")) {
      auto address = address_attributes(member, "<iommuGroup>");
      if (!address) return fail(address.error());
    }
  }

  if (const pugi::xml_node numa = capability.child("numa")) {
    const pugi::xml_attribute node = numa.attribute("node");
    if (node) {
      const std::string_view text = trim(node.value());
      const auto value = parse_decimal(text);
      if (!value || *value < std::numeric_limits<int>::min() ||
          *value > std::numeric_limits<int>::max()) {
        return bad("<numa> node " + quote_for_message(text) + " is not a node number");
      }
      // The kernel's -1 means the platform does not say.
      if (*value >= 0) device.numa_node = static_cast<int>(*value);
    }
  }

  bool bridge_capability = false;
  for (const pugi::xml_node nested : capability.children("capability")) {
    const std::string_view type = nested.attribute("type").value();
    if (type == "phys_function") {
      if (const pugi::xml_node address_node = nested.child("address")) {
        auto address = address_attributes(address_node, "<phys_function>");
        if (!address) return fail(address.error());
        device.physical_function = *address;
      }
    } else if (type == "virt_functions") {
      auto max_count = unsigned_attribute(nested, "maxCount", "<virt_functions>", "a number");
      if (!max_count) return fail(max_count.error());
      device.sriov_total_vfs = *max_count;
      for (const pugi::xml_node address_node : nested.children("address")) {
        auto address = address_attributes(address_node, "<virt_functions>");
        if (!address) return fail(address.error());
        device.virtual_functions.push_back(*address);
      }
      device.sriov_num_vfs = static_cast<unsigned>(device.virtual_functions.size());
    } else if (type == "pci-bridge" || type == "cardbus-bridge") {
      bridge_capability = true;
    } else if (type == "vpd") {
      // The VPD's read-only SN keyword: the card's serial, as sysfs's vpd
      // gives it on this machine (the one serial libvirt shows).
      for (const pugi::xml_node fields : nested.children("fields")) {
        if (std::string_view(fields.attribute("access").value()) != "readonly") continue;
        device.vpd_serial = std::string(trim(sanitize_untrusted(fields.child("serial_number").text().get())));
      }
    }
    // mdev_types and later additions carry nothing the inventory holds.
  }
  device.header =
      bridge_capability ? HeaderKind::bridge : header_kind_from_class(device.class_code);
  return device;
}

}  // namespace

Result<std::optional<PciDevice>> parse_nodedev_xml(std::string_view xml) {
  pugi::xml_document document;
  const pugi::xml_parse_result parsed = document.load_buffer(xml.data(), xml.size());
  if (!parsed) {
    return bad(std::string("node-device XML is not well-formed: ") + parsed.description() +
               " at offset " + std::to_string(parsed.offset));
  }
  const pugi::xml_node root = document.document_element();
  if (std::strcmp(root.name(), "device") != 0) {
    return bad("node-device XML has root element " + quote_for_message(root.name()) + ", expected 'device'");
  }
  for (const pugi::xml_node capability : root.children("capability")) {
    if (std::string_view(capability.attribute("type").value()) != "pci") continue;
    auto device = parse_pci_capability(root, capability);
    if (!device) return fail(device.error());
    return std::optional<PciDevice>(std::move(device).value());
  }
  return std::optional<PciDevice>{};
}

}  // namespace pcipass::core
