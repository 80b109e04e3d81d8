// Reads a host description: YAML shape, keys, value ranges and references
// between entries, with file:line:column and a key path in every message.
#include "simhost.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <set>

#include <yaml-cpp/yaml.h>

namespace pcipass::simhost {

std::string PciAddress::str() const {
  char text[16];
  std::snprintf(text, sizeof text, "%04x:%02x:%02x.%u", domain, bus, slot, function);
  return text;
}

const Device* Host::find(const PciAddress& address) const {
  auto it = std::lower_bound(devices.begin(), devices.end(), address,
                             [](const Device& d, const PciAddress& a) { return d.address < a; });
  return it != devices.end() && it->address == address ? &*it : nullptr;
}

std::string hex(unsigned value, int digits) {
  char text[16];
  std::snprintf(text, sizeof text, "%0*x", digits, value);
  return text;
}

namespace {

using Keys = std::initializer_list<const char*>;

// Wraps yaml-cpp nodes so every error names the file, line, column and the
// key path (`devices[3].nvme[0].model`) the user has to fix.
class Reader {
 public:
  explicit Reader(std::string file) : m_file(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& where,
                         const std::string& why) const {
    std::string at = m_file;
    if (node.IsDefined() && !node.Mark().is_null())
      at +=
          ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
    throw Error(at + ": " + where + ": " + why);
  }

  // Checks `node` is a map whose keys are all in `known`.
  void map(const YAML::Node& node, const std::string& where, Keys known) const {
    if (!node.IsMap()) fail(node, where, "expected a map of keys");
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(entry.first, where, "unknown key \"" + key + "\" (known keys: " + list + ")");
      }
    }
  }

  void sequence(const YAML::Node& node, const std::string& where) const {
    if (!node.IsSequence()) fail(node, where, "expected a list");
  }

  void required(const YAML::Node& parent, const char* key, const std::string& where) const {
    if (!parent[key]) fail(parent, where, std::string("missing required key \"") + key + "\"");
  }

  long long integer(const YAML::Node& node, const std::string& where, long long min,
                    long long max) const {
    if (!node.IsScalar()) fail(node, where, "expected an integer");
    const std::string& text = node.Scalar();
    const char* first = text.data();
    const char* last = text.data() + text.size();
    bool negative = first != last && *first == '-';
    if (negative) ++first;
    int base = 10;
    if (last - first > 2 && first[0] == '0' && (first[1] == 'x' || first[1] == 'X')) {
      base = 16;
      first += 2;
    }
    unsigned long long value = 0;
    auto [end, ec] = std::from_chars(first, last, value, base);
    if (ec != std::errc() || end != last || first == last)
      fail(node, where, "\"" + text + "\" is not an integer (use decimal or 0x hex)");
    if (value > static_cast<unsigned long long>(max) + (negative ? 1 : 0))
      fail(node, where, text + " is out of range");
    long long signed_value =
        negative ? -static_cast<long long>(value) : static_cast<long long>(value);
    if (signed_value < min || signed_value > max)
      fail(node, where,
           text + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
    return signed_value;
  }

  unsigned id(const YAML::Node& node, const std::string& where, unsigned max) const {
    return static_cast<unsigned>(integer(node, where, 0, max));
  }

  bool boolean(const YAML::Node& node, const std::string& where) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      fail(node, where, "expected true or false");
    return value;
  }

  // A string is a scalar, or {hex: "41ff"} for bytes YAML cannot carry.
  // NUL is refused: no sysfs or proc text can hold one.
  Bytes string(const YAML::Node& node, const std::string& where) const {
    Bytes bytes = raw_string(node, where);
    if (bytes.find('\0') != Bytes::npos) fail(node, where, "a string cannot contain a NUL byte");
    return bytes;
  }

  Bytes raw_string(const YAML::Node& node, const std::string& where) const {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsMap()) {
      map(node, where, {"hex"});
      const YAML::Node digits = node["hex"];
      if (!digits || !digits.IsScalar()) fail(node, where, "expected {hex: \"...\"}");
      const std::string& text = digits.Scalar();
      if (text.size() % 2 != 0) fail(digits, where, "hex string has an odd number of digits");
      Bytes bytes;
      for (std::size_t i = 0; i < text.size(); i += 2) {
        unsigned byte = 0;
        auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, byte, 16);
        if (ec != std::errc() || end != text.data() + i + 2)
          fail(digits, where, "\"" + text.substr(i, 2) + "\" is not a hex byte");
        bytes.push_back(static_cast<char>(byte));
      }
      return bytes;
    }
    fail(node, where, "expected a string or {hex: \"...\"}");
  }

  std::vector<Bytes> strings(const YAML::Node& node, const std::string& where) const {
    sequence(node, where);
    std::vector<Bytes> list;
    for (std::size_t i = 0; i < node.size(); ++i)
      list.push_back(string(node[i], where + "[" + std::to_string(i) + "]"));
    return list;
  }

  PciAddress address(const YAML::Node& node, const std::string& where) const {
    PciAddress a;
    char tail = 0;
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text.size() != 12 ||
        std::sscanf(text.c_str(), "%4x:%2x:%2x.%1x%c", &a.domain, &a.bus, &a.slot, &a.function,
                    &tail) != 4 ||
        a.slot > 0x1f || a.function > 7 || text[4] != ':' || text[7] != ':' || text[10] != '.')
      fail(node, where,
           "\"" + text + "\" is not a PCI address (want DDDD:BB:SS.F, like 0000:2d:00.0)");
    return a;
  }

 private:
  std::string m_file;
};

std::string at(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

// Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or space.
bool valid_ifname(const Bytes& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r');
  });
}

// sysfs names are single path components.
bool valid_file_name(const Bytes& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == Bytes::npos &&
         name.find('\0') == Bytes::npos;
}

unsigned trailing_number(const Bytes& name, unsigned fallback) {
  std::size_t digits = name.size();
  while (digits > 0 && name[digits - 1] >= '0' && name[digits - 1] <= '9') --digits;
  if (digits == name.size() || name.size() - digits > 6) return fallback;
  return static_cast<unsigned>(std::stoul(name.substr(digits)));
}

class Parser {
 public:
  explicit Parser(const Reader& reader) : m_r(reader) {}

  Host parse(const YAML::Node& root) {
    m_r.map(root, "host",
            {"name", "description", "iommu", "vfio", "modules", "drivers", "cmdline", "identity",
             "devices", "mounts", "swaps", "routes", "addresses", "dm", "md", "btrfs", "zfs",
             "pci_ids"});
    Host host;
    if (root["name"]) host.name = m_r.string(root["name"], "name");
    if (root["description"]) host.description = m_r.string(root["description"], "description");
    if (root["iommu"]) host.iommu = m_r.boolean(root["iommu"], "iommu");
    if (root["vfio"]) host.vfio = m_r.boolean(root["vfio"], "vfio");
    if (root["modules"]) host.modules = checked_names(root["modules"], "modules");
    if (root["drivers"]) host.drivers = checked_names(root["drivers"], "drivers");
    if (root["cmdline"]) host.cmdline = m_r.string(root["cmdline"], "cmdline");
    if (const YAML::Node identity = root["identity"]) {
      m_r.map(identity, "identity", {"hostname", "machine_id", "product_uuid"});
      if (identity["hostname"]) host.hostname = m_r.string(identity["hostname"], "identity.hostname");
      if (identity["machine_id"])
        host.machine_id = m_r.string(identity["machine_id"], "identity.machine_id");
      if (identity["product_uuid"])
        host.product_uuid = m_r.string(identity["product_uuid"], "identity.product_uuid");
    }

    m_r.required(root, "devices", "host");
    const YAML::Node devices = root["devices"];
    m_r.sequence(devices, "devices");
    for (std::size_t i = 0; i < devices.size(); ++i)
      host.devices.push_back(device(devices[i], at("devices", i)));
    try {
      derive_host(host, m_explicit_pcie);
    } catch (const DeviceError& e) {
      m_r.fail(m_lines.at(e.source), e.where, e.what());
    }
    index_names(host);

    if (root["dm"]) host.dm = virtual_blocks(root["dm"], "dm", true);
    if (root["md"]) host.md = virtual_blocks(root["md"], "md", false);
    if (root["btrfs"]) host.btrfs = member_sets(root["btrfs"], "btrfs", "fsid");
    if (root["zfs"]) host.zfs = member_sets(root["zfs"], "zfs", "pool");
    if (root["mounts"]) host.mounts = mounts(root["mounts"]);
    if (root["swaps"]) host.swaps = swaps(root["swaps"]);
    if (root["addresses"]) host.addresses = addresses(root["addresses"]);
    if (root["routes"]) host.routes = routes(root["routes"]);
    if (root["pci_ids"]) host.pci_ids = pci_ids(root["pci_ids"]);
    return host;
  }

 private:
  std::vector<Bytes> checked_names(const YAML::Node& node, const std::string& where) {
    std::vector<Bytes> names = m_r.strings(node, where);
    for (std::size_t i = 0; i < names.size(); ++i)
      if (!valid_file_name(names[i]))
        m_r.fail(node[i], at(where, i), "\"" + names[i] + "\" cannot be a file name");
    return names;
  }

  Device device(const YAML::Node& node, const std::string& where) {
    m_r.map(node, where,
            {"address",
             "vendor",
             "device",
             "subsystem_vendor",
             "subsystem_device",
             "class",
             "revision",
             "pcie",
             "parent",
             "driver",
             "iommu_group",
             "numa_node",
             "irq",
             "boot_vga",
             "framebuffer",
             "flr",
             "reset_method",
             "dsn",
             "slot",
             "vpd_serial",
             "sriov",
             "nvme",
             "block",
             "net",
             "attributes",
             "bars",
             "link",
             "vendor_name",
             "device_name",
             "secondary_bus"});
    for (const char* key : {"address", "vendor", "device", "class"}) m_r.required(node, key, where);
    Device d;
    d.address = m_r.address(node["address"], where + ".address");
    const std::string w = where + " (" + d.address.str() + ")";
    m_lines[d.address] = node;
    d.vendor = m_r.id(node["vendor"], w + ".vendor", 0xffff);
    d.device = m_r.id(node["device"], w + ".device", 0xffff);
    d.class_code = m_r.id(node["class"], w + ".class", 0xffffff);
    // Bridges carry subsystem ids only in an optional capability; Linux
    // shows 0 without it. Endpoints default to their own ids.
    d.subsystem_vendor = node["subsystem_vendor"]
                             ? m_r.id(node["subsystem_vendor"], w + ".subsystem_vendor", 0xffff)
                         : d.is_bridge() ? 0
                                         : d.vendor;
    d.subsystem_device = node["subsystem_device"]
                             ? m_r.id(node["subsystem_device"], w + ".subsystem_device", 0xffff)
                         : d.is_bridge() ? 0
                                         : d.device;
    if (node["revision"]) d.revision = m_r.id(node["revision"], w + ".revision", 0xff);
    if (node["pcie"]) {
      static const std::map<std::string, PortType> types = {
          {"none", PortType::none},
          {"endpoint", PortType::endpoint},
          {"legacy_endpoint", PortType::legacy_endpoint},
          {"root_port", PortType::root_port},
          {"upstream", PortType::upstream},
          {"downstream", PortType::downstream},
          {"rc_endpoint", PortType::rc_endpoint}};
      auto it = types.find(node["pcie"].IsScalar() ? node["pcie"].Scalar() : "");
      if (it == types.end())
        m_r.fail(node["pcie"], w + ".pcie",
                 "expected none, endpoint, legacy_endpoint, root_port, upstream, downstream or "
                 "rc_endpoint");
      d.pcie = it->second;
      m_explicit_pcie.insert(d.address);
    } else if ((d.class_code >> 8) == 0x0600) {
      d.pcie = PortType::none;  // host bridges are not PCIe functions
    }
    if (node["parent"]) d.parent = m_r.address(node["parent"], w + ".parent");
    if (node["driver"]) d.driver = checked_name(node["driver"], w + ".driver");
    if (node["iommu_group"])
      d.iommu_group = m_r.id(node["iommu_group"], w + ".iommu_group", 0x7fffffff);
    if (node["numa_node"])
      d.numa_node = static_cast<int>(m_r.integer(node["numa_node"], w + ".numa_node", -1, 1023));
    if (node["irq"]) d.irq = m_r.id(node["irq"], w + ".irq", 0xffff);
    if (node["boot_vga"]) d.boot_vga = m_r.boolean(node["boot_vga"], w + ".boot_vga");
    if (node["framebuffer"]) d.framebuffer = m_r.boolean(node["framebuffer"], w + ".framebuffer");
    if (node["flr"]) d.flr = m_r.boolean(node["flr"], w + ".flr");
    if (node["reset_method"])
      d.reset_method = m_r.string(node["reset_method"], w + ".reset_method");
    if (node["dsn"]) {
      // As lspci prints it: 00-11-22-33-44-55-66-77, most significant byte first.
      const std::string text = m_r.string(node["dsn"], w + ".dsn");
      unsigned b[8];
      char tail = 0;
      if (text.size() != 23 ||
          std::sscanf(text.c_str(), "%2x-%2x-%2x-%2x-%2x-%2x-%2x-%2x%c", &b[0], &b[1], &b[2], &b[3],
                      &b[4], &b[5], &b[6], &b[7], &tail) != 8)
        m_r.fail(node["dsn"], w + ".dsn", "expected a serial number like 00-11-22-33-44-55-66-77");
      std::uint64_t v = 0;
      for (unsigned byte : b) v = v << 8 | byte;
      d.dsn = v;
    }
    if (node["slot"]) d.slot = checked_name(node["slot"], w + ".slot");
    if (node["vpd_serial"]) d.vpd_serial = m_r.string(node["vpd_serial"], w + ".vpd_serial");
    if (node["vendor_name"]) d.vendor_name = m_r.string(node["vendor_name"], w + ".vendor_name");
    if (node["device_name"]) d.device_name = m_r.string(node["device_name"], w + ".device_name");
    if (node["secondary_bus"])
      d.secondary_bus = m_r.id(node["secondary_bus"], w + ".secondary_bus", 0xff);
    if (node["sriov"]) d.sriov = sriov(node["sriov"], w + ".sriov");
    if (node["nvme"]) {
      m_r.sequence(node["nvme"], w + ".nvme");
      for (std::size_t i = 0; i < node["nvme"].size(); ++i)
        d.nvme.push_back(nvme(node["nvme"][i], at(w + ".nvme", i)));
    }
    if (node["block"]) {
      m_r.sequence(node["block"], w + ".block");
      for (std::size_t i = 0; i < node["block"].size(); ++i)
        d.block.push_back(disk(node["block"][i], at(w + ".block", i), true));
    }
    if (node["net"]) {
      m_r.sequence(node["net"], w + ".net");
      for (std::size_t i = 0; i < node["net"].size(); ++i)
        d.net.push_back(net(node["net"][i], at(w + ".net", i)));
    }
    if (node["attributes"]) {
      const YAML::Node attributes = node["attributes"];
      if (!attributes.IsMap())
        m_r.fail(attributes, w + ".attributes", "expected a map of file name to value");
      for (const auto& entry : attributes) {
        Bytes name = entry.first.Scalar();
        if (!valid_file_name(name))
          m_r.fail(entry.first, w + ".attributes", "\"" + name + "\" cannot be a file name");
        d.attributes.emplace_back(name, m_r.string(entry.second, w + ".attributes." + name));
      }
    }
    if (node["bars"]) {
      const YAML::Node bars = node["bars"];
      m_r.sequence(bars, w + ".bars");
      if (bars.size() > 3)
        m_r.fail(bars, w + ".bars", "at most 3 BARs (each is 64-bit and takes two BAR registers)");
      for (std::size_t i = 0; i < bars.size(); ++i)
        d.bars.push_back(bar(bars[i], at(w + ".bars", i)));
    } else if (!d.is_bridge() && (d.class_code >> 8) != 0x0600) {
      d.bars.push_back(Bar{0x4000, false, 0});  // something for lspci's "Region 0"
    }
    if (node["link"]) {
      const YAML::Node link = node["link"];
      m_r.map(link, w + ".link", {"speed", "width"});
      if (link["speed"]) {
        const std::string s = link["speed"].IsScalar() ? link["speed"].Scalar() : "";
        static const std::map<std::string, double> speeds = {{"2.5", 2.5}, {"5", 5},   {"8", 8},
                                                             {"16", 16},   {"32", 32}, {"64", 64}};
        if (!speeds.count(s))
          m_r.fail(link["speed"], w + ".link.speed", "expected 2.5, 5, 8, 16, 32 or 64 (GT/s)");
        d.link.speed = speeds.at(s);
      }
      if (link["width"]) {
        d.link.width = m_r.id(link["width"], w + ".link.width", 32);
        if (std::set<unsigned>{1, 2, 4, 8, 12, 16, 32}.count(d.link.width) == 0)
          m_r.fail(link["width"], w + ".link.width", "expected 1, 2, 4, 8, 12, 16 or 32 lanes");
      }
    }
    return d;
  }

  Bytes checked_name(const YAML::Node& node, const std::string& where) {
    Bytes name = m_r.string(node, where);
    if (!valid_file_name(name)) m_r.fail(node, where, "\"" + name + "\" cannot be a file name");
    return name;
  }

  Bar bar(const YAML::Node& node, const std::string& where) {
    Bar b;
    if (node.IsMap()) {
      m_r.map(node, where, {"size", "prefetchable"});
      m_r.required(node, "size", where);
      b.size = static_cast<std::uint64_t>(m_r.integer(node["size"], where + ".size", 0, 1LL << 50));
      if (node["prefetchable"])
        b.prefetchable = m_r.boolean(node["prefetchable"], where + ".prefetchable");
    } else {
      b.size = static_cast<std::uint64_t>(m_r.integer(node, where, 0, 1LL << 50));
    }
    if (b.size < 16 || (b.size & (b.size - 1)) != 0)
      m_r.fail(node, where, "a BAR size is a power of two of at least 16 bytes");
    return b;
  }

  Sriov sriov(const YAML::Node& node, const std::string& where) {
    m_r.map(node, where,
            {"total_vfs", "num_vfs", "vf_device", "offset", "stride", "driver", "vf_iommu_group",
             "vf_bar_size"});
    m_r.required(node, "total_vfs", where);
    m_r.required(node, "vf_device", where);
    Sriov s;
    s.total_vfs = m_r.id(node["total_vfs"], where + ".total_vfs", 0xffff);
    if (node["num_vfs"]) s.num_vfs = m_r.id(node["num_vfs"], where + ".num_vfs", s.total_vfs);
    s.vf_device = m_r.id(node["vf_device"], where + ".vf_device", 0xffff);
    if (node["offset"]) s.offset = m_r.id(node["offset"], where + ".offset", 0xffff);
    if (node["stride"]) s.stride = m_r.id(node["stride"], where + ".stride", 0xffff);
    if (node["driver"]) s.driver = checked_name(node["driver"], where + ".driver");
    if (node["vf_iommu_group"]) {
      const std::string mode =
          node["vf_iommu_group"].IsScalar() ? node["vf_iommu_group"].Scalar() : "";
      if (mode != "own" && mode != "pf")
        m_r.fail(node["vf_iommu_group"], where + ".vf_iommu_group",
                 "expected own (a group per VF) or pf (the PF's group)");
      s.vf_groups = mode == "pf" ? VfGroups::pf : VfGroups::own;
    }
    if (node["vf_bar_size"]) {
      s.vf_bar_size = static_cast<std::uint64_t>(
          m_r.integer(node["vf_bar_size"], where + ".vf_bar_size", 16, 1LL << 40));
      if ((s.vf_bar_size & (s.vf_bar_size - 1)) != 0)
        m_r.fail(node["vf_bar_size"], where + ".vf_bar_size", "must be a power of two");
    }
    if (s.total_vfs > 0 && s.offset == 0)
      m_r.fail(node, where, "offset 0 would put VF 0 on the PF's own address");
    return s;
  }

  NvmeController nvme(const YAML::Node& node, const std::string& where) {
    m_r.map(node, where, {"controller", "model", "firmware", "serial", "namespaces"});
    m_r.required(node, "controller", where);
    NvmeController c;
    c.name = checked_name(node["controller"], where + ".controller");
    if (node["model"]) c.model = m_r.string(node["model"], where + ".model");
    if (node["firmware"]) c.firmware = m_r.string(node["firmware"], where + ".firmware");
    if (node["serial"]) c.serial = m_r.string(node["serial"], where + ".serial");
    if (node["namespaces"]) {
      m_r.sequence(node["namespaces"], where + ".namespaces");
      for (std::size_t i = 0; i < node["namespaces"].size(); ++i)
        c.namespaces.push_back(disk(node["namespaces"][i], at(where + ".namespaces", i), false));
    }
    return c;
  }

  Disk disk(const YAML::Node& node, const std::string& where, bool allow_subdir) {
    if (allow_subdir)
      m_r.map(node, where, {"name", "size_sectors", "partitions", "subdir"});
    else
      m_r.map(node, where, {"name", "size_sectors", "partitions"});
    m_r.required(node, "name", where);
    Disk d;
    d.name = checked_name(node["name"], where + ".name");
    d.size_sectors = 1953525168;  // 1 TB
    if (node["size_sectors"])
      d.size_sectors = static_cast<std::uint64_t>(
          m_r.integer(node["size_sectors"], where + ".size_sectors", 1, 1LL << 50));
    if (node["subdir"]) {
      d.subdir = m_r.string(node["subdir"], where + ".subdir");
      if (d.subdir.find("..") != Bytes::npos || (!d.subdir.empty() && d.subdir.front() == '/'))
        m_r.fail(node["subdir"], where + ".subdir", "must be a relative path without \"..\"");
    }
    if (node["partitions"]) {
      const YAML::Node parts = node["partitions"];
      m_r.sequence(parts, where + ".partitions");
      // Unsized partitions share the disk after a 1 MiB gap, like a
      // freshly partitioned GPT disk.
      const std::uint64_t share =
          parts.size() ? (d.size_sectors - 2048) / parts.size() / 2048 * 2048 : 0;
      std::uint64_t next = 2048;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string pw = at(where + ".partitions", i);
        Partition p;
        p.start = next;
        p.size_sectors = share;
        if (parts[i].IsMap() && !parts[i]["hex"]) {
          m_r.map(parts[i], pw, {"name", "size_sectors", "start"});
          m_r.required(parts[i], "name", pw);
          p.name = checked_name(parts[i]["name"], pw + ".name");
          if (parts[i]["size_sectors"])
            p.size_sectors = static_cast<std::uint64_t>(
                m_r.integer(parts[i]["size_sectors"], pw + ".size_sectors", 1, 1LL << 50));
          if (parts[i]["start"])
            p.start = static_cast<std::uint64_t>(
                m_r.integer(parts[i]["start"], pw + ".start", 0, 1LL << 50));
        } else {
          p.name = checked_name(parts[i], pw);
        }
        if (p.start + p.size_sectors > d.size_sectors)
          m_r.fail(parts[i], pw, "partition ends past the end of the disk");
        p.number = trailing_number(p.name, static_cast<unsigned>(i + 1));
        next = p.start + p.size_sectors;
        d.partitions.push_back(p);
      }
    }
    return d;
  }

  NetInterface net(const YAML::Node& node, const std::string& where) {
    m_r.map(node, where, {"name", "operstate", "mac", "addr_assign_type", "carrier", "ifindex"});
    m_r.required(node, "name", where);
    NetInterface n;
    n.name = m_r.string(node["name"], where + ".name");
    if (!valid_ifname(n.name))
      m_r.fail(node["name"], where + ".name",
               "\"" + n.name +
                   "\" is not a valid Linux interface name (1-15 bytes, no '/', ':' or space)");
    if (node["operstate"]) {
      n.operstate = m_r.string(node["operstate"], where + ".operstate");
      static const std::set<std::string> states = {
          "up", "down", "unknown", "dormant", "notpresent", "lowerlayerdown", "testing"};
      if (!states.count(n.operstate))
        m_r.fail(node["operstate"], where + ".operstate",
                 "expected a Linux operstate (up, down, ...)");
    }
    n.carrier = n.operstate == "up" ? 1 : 0;
    if (node["carrier"])
      n.carrier = static_cast<int>(m_r.integer(node["carrier"], where + ".carrier", 0, 1));
    if (node["mac"]) {
      n.mac = m_r.string(node["mac"], where + ".mac");
      unsigned b[6];
      char tail = 0;
      if (n.mac.size() != 17 || std::sscanf(n.mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0],
                                            &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        m_r.fail(node["mac"], where + ".mac", "expected a MAC address like 3c:7c:3f:12:34:56");
      std::transform(n.mac.begin(), n.mac.end(), n.mac.begin(),
                     [](char c) { return std::tolower(c); });
    }
    if (node["addr_assign_type"])
      n.addr_assign_type =
          static_cast<int>(m_r.integer(node["addr_assign_type"], where + ".addr_assign_type", 0, 3));
    if (node["ifindex"])
      n.ifindex = static_cast<int>(m_r.integer(node["ifindex"], where + ".ifindex", 2, 0x7fffffff));
    return n;
  }

  // Block device sizes (for dm/md and swaps) and interface names, which
  // later sections refer to.
  void index_names(const Host& host) {
    auto disk = [&](const Disk& d) {
      m_block_sizes[d.name] = d.size_sectors;
      for (const Partition& p : d.partitions) m_block_sizes[p.name] = p.size_sectors;
    };
    for (const Device& d : host.devices) {
      for (const NvmeController& c : d.nvme)
        std::for_each(c.namespaces.begin(), c.namespaces.end(), disk);
      std::for_each(d.block.begin(), d.block.end(), disk);
      for (const NetInterface& n : d.net) m_interfaces.insert(n.name);
    }
  }

  std::vector<VirtualBlock> virtual_blocks(const YAML::Node& node, const std::string& where,
                                           bool dm) {
    m_r.sequence(node, where);
    std::vector<VirtualBlock> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at(where, i);
      if (dm)
        m_r.map(node[i], w, {"name", "dm_name", "slaves"});
      else
        m_r.map(node[i], w, {"name", "slaves"});
      m_r.required(node[i], "name", w);
      m_r.required(node[i], "slaves", w);
      VirtualBlock v;
      v.name = m_r.string(node[i]["name"], w + ".name");
      const std::string prefix = dm ? "dm-" : "md";
      const Bytes number = v.name.substr(std::min(v.name.size(), prefix.size()));
      if (!v.name.starts_with(prefix) || number.empty() || number.size() > 6 ||
          number.find_first_not_of("0123456789") != Bytes::npos)
        m_r.fail(node[i]["name"], w + ".name", "expected " + prefix + "N");
      if (m_block_sizes.count(v.name))
        m_r.fail(node[i]["name"], w + ".name", "block device name " + v.name + " appears twice");
      v.major = dm ? 253 : 9;
      v.minor = static_cast<unsigned>(std::stoul(number));
      if (dm) {
        m_r.required(node[i], "dm_name", w);
        v.dm_name = m_r.string(node[i]["dm_name"], w + ".dm_name");
        if (!valid_file_name(v.dm_name))
          m_r.fail(node[i]["dm_name"], w + ".dm_name",
                   "\"" + v.dm_name + "\" cannot be a file name");
        m_mapper[v.dm_name] = v.name;
      }
      v.slaves = m_r.strings(node[i]["slaves"], w + ".slaves");
      for (std::size_t s = 0; s < v.slaves.size(); ++s) {
        auto it = m_block_sizes.find(v.slaves[s]);
        if (it == m_block_sizes.end())
          m_r.fail(node[i]["slaves"][s], at(w + ".slaves", s),
                   "\"" + v.slaves[s] + "\" is not a block device of this host");
        v.size_sectors += it->second;
      }
      m_block_sizes[v.name] = v.size_sectors;
      list.push_back(v);
    }
    return list;
  }

  // A mount or swap names its device by `device:`, or by a /dev/ source.
  Bytes resolve_block(const YAML::Node& node, const std::string& where, const Bytes& source,
                      bool required) {
    if (node["device"]) {
      Bytes name = m_r.string(node["device"], where + ".device");
      if (!m_block_sizes.count(name))
        m_r.fail(node["device"], where + ".device",
                 "\"" + name + "\" is not a block device of this host");
      return name;
    }
    if (source.starts_with("/dev/mapper/") && m_mapper.count(source.substr(12)))
      return m_mapper.at(source.substr(12));
    if (source.starts_with("/dev/")) {
      if (m_block_sizes.count(source.substr(5))) return source.substr(5);
      m_r.fail(node, where,
               "source " + source + " is not a block device of this host (set device:)");
    }
    if (required) m_r.fail(node, where, "needs a block device: a /dev/ source or device:");
    return {};
  }

  std::vector<Bytes> member_devices(const YAML::Node& node, const std::string& where) {
    m_r.required(node, "devices", where);
    std::vector<Bytes> names = m_r.strings(node["devices"], where + ".devices");
    if (names.empty()) m_r.fail(node["devices"], where + ".devices", "needs at least one device");
    for (std::size_t i = 0; i < names.size(); ++i)
      if (!m_block_sizes.count(names[i]))
        m_r.fail(node["devices"][i], at(where + ".devices", i),
                 "\"" + names[i] + "\" is not a block device of this host");
    return names;
  }

  // btrfs: {fsid, devices}; zfs: {pool, devices}.
  std::vector<MemberSet> member_sets(const YAML::Node& node, const std::string& section,
                                     const char* name_key) {
    m_r.sequence(node, section);
    std::vector<MemberSet> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at(section, i);
      m_r.map(node[i], w, {name_key, "devices"});
      m_r.required(node[i], name_key, w);
      MemberSet set;
      const std::string key = w + "." + name_key;
      set.name = m_r.string(node[i][name_key], key);
      if (!valid_file_name(set.name))
        m_r.fail(node[i][name_key], key, "\"" + set.name + "\" cannot be a file name");
      set.devices = member_devices(node[i], w);
      list.push_back(set);
    }
    return list;
  }

  std::vector<Mount> mounts(const YAML::Node& node) {
    m_r.sequence(node, "mounts");
    std::vector<Mount> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at("mounts", i);
      m_r.map(node[i], w, {"source", "target", "fstype", "options", "device"});
      for (const char* key : {"source", "target", "fstype"}) m_r.required(node[i], key, w);
      Mount m;
      m.source = m_r.string(node[i]["source"], w + ".source");
      m.target = m_r.string(node[i]["target"], w + ".target");
      m.fstype = m_r.string(node[i]["fstype"], w + ".fstype");
      if (node[i]["options"]) m.options = m_r.string(node[i]["options"], w + ".options");
      if (m.target.empty() || m.target.front() != '/')
        m_r.fail(node[i]["target"], w + ".target", "must be an absolute path");
      // btrfs and ZFS mounts carry anonymous 0:N numbers, as on Linux.
      if (m.fstype != "zfs") m.device = resolve_block(node[i], w, m.source, false);
      m.anonymous = m.fstype == "btrfs" || m.fstype == "zfs";
      list.push_back(m);
    }
    return list;
  }

  std::vector<Swap> swaps(const YAML::Node& node) {
    m_r.sequence(node, "swaps");
    std::vector<Swap> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at("swaps", i);
      m_r.map(node[i], w, {"source", "device", "size_kib", "priority"});
      m_r.required(node[i], "source", w);
      Swap s;
      s.source = m_r.string(node[i]["source"], w + ".source");
      // A /dev source is a partition; anything else is a swap file.
      s.device = resolve_block(node[i], w, s.source, false);
      if (s.device.empty() && !node[i]["size_kib"])
        m_r.fail(node[i], w, "a swap file needs size_kib");
      if (!s.device.empty()) s.size_kib = m_block_sizes.at(s.device) / 2;
      if (node[i]["size_kib"])
        s.size_kib = static_cast<std::uint64_t>(
            m_r.integer(node[i]["size_kib"], w + ".size_kib", 0, 1LL << 50));
      if (node[i]["priority"])
        s.priority =
            static_cast<int>(m_r.integer(node[i]["priority"], w + ".priority", -32768, 32767));
      list.push_back(s);
    }
    return list;
  }

  Bytes interface(const YAML::Node& node, const std::string& where) {
    Bytes name = m_r.string(node, where);
    if (name != "lo" && !m_interfaces.count(name))
      m_r.fail(node, where, "\"" + name + "\" is not a net interface of this host");
    return name;
  }

  std::vector<Address> addresses(const YAML::Node& node) {
    m_r.sequence(node, "addresses");
    std::vector<Address> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at("addresses", i);
      m_r.map(node[i], w, {"iface", "address"});
      m_r.required(node[i], "iface", w);
      m_r.required(node[i], "address", w);
      Address a;
      a.iface = interface(node[i]["iface"], w + ".iface");
      const std::string text = m_r.string(node[i]["address"], w + ".address");
      a.v6 = text.find(':') != std::string::npos;
      if (!parse_prefix(text, a.v6, a.bytes, a.prefix))
        m_r.fail(node[i]["address"], w + ".address", "\"" + text + "\" is not ADDRESS/PREFIX");
      list.push_back(a);
    }
    return list;
  }

  std::vector<Route> routes(const YAML::Node& node) {
    m_r.sequence(node, "routes");
    std::vector<Route> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at("routes", i);
      m_r.map(node[i], w, {"iface", "destination", "gateway", "metric"});
      m_r.required(node[i], "iface", w);
      Route r;
      r.iface = interface(node[i]["iface"], w + ".iface");
      unsigned char bytes[16] = {};
      const std::string destination = node[i]["destination"]
                                          ? m_r.string(node[i]["destination"], w + ".destination")
                                          : "0.0.0.0/0";
      if (!parse_prefix(destination, false, bytes, r.prefix))
        m_r.fail(node[i]["destination"], w + ".destination",
                 "\"" + destination + "\" is not IPv4 ADDRESS/PREFIX");
      std::memcpy(&r.destination, bytes, 4);
      if (node[i]["gateway"]) {
        const std::string gateway = m_r.string(node[i]["gateway"], w + ".gateway");
        if (inet_pton(AF_INET, gateway.c_str(), &r.gateway) != 1)
          m_r.fail(node[i]["gateway"], w + ".gateway",
                   "\"" + gateway + "\" is not an IPv4 address");
      }
      if (node[i]["metric"]) r.metric = m_r.id(node[i]["metric"], w + ".metric", 0x7fffffff);
      list.push_back(r);
    }
    return list;
  }

  static bool parse_prefix(const std::string& text, bool v6, unsigned char* bytes,
                           unsigned& prefix) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return false;
    const std::string length = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), prefix);
    if (ec != std::errc() || end != length.data() + length.size() || prefix > (v6 ? 128u : 32u))
      return false;
    return inet_pton(v6 ? AF_INET6 : AF_INET, text.substr(0, slash).c_str(), bytes) == 1;
  }

  std::vector<PciIdsVendor> pci_ids(const YAML::Node& node) {
    m_r.sequence(node, "pci_ids");
    std::vector<PciIdsVendor> list;
    // pci.ids is line-based: a name with a line break cannot be written.
    auto name = [&](const YAML::Node& n, const std::string& where) {
      Bytes text = m_r.string(n, where);
      if (text.empty() || text.find_first_of("\n\r") != Bytes::npos ||
          text.find('\0') != Bytes::npos)
        m_r.fail(n, where, "a pci.ids name must be non-empty and on one line");
      return text;
    };
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string w = at("pci_ids", i);
      m_r.map(node[i], w, {"vendor", "name", "devices"});
      m_r.required(node[i], "vendor", w);
      m_r.required(node[i], "name", w);
      PciIdsVendor v;
      v.vendor = m_r.id(node[i]["vendor"], w + ".vendor", 0xffff);
      v.name = name(node[i]["name"], w + ".name");
      if (node[i]["devices"]) {
        const YAML::Node devices = node[i]["devices"];
        m_r.sequence(devices, w + ".devices");
        for (std::size_t j = 0; j < devices.size(); ++j) {
          const std::string dw = at(w + ".devices", j);
          m_r.map(devices[j], dw, {"device", "name"});
          m_r.required(devices[j], "device", dw);
          m_r.required(devices[j], "name", dw);
          v.devices.push_back({m_r.id(devices[j]["device"], dw + ".device", 0xffff),
                               name(devices[j]["name"], dw + ".name")});
        }
      }
      list.push_back(v);
    }
    return list;
  }

  const Reader& m_r;
  std::map<PciAddress, YAML::Node> m_lines;
  std::set<PciAddress> m_explicit_pcie;
  std::map<Bytes, std::uint64_t> m_block_sizes;  // every block device name, with its size
  std::map<Bytes, Bytes> m_mapper;               // dm_name -> dm-N
  std::set<Bytes> m_interfaces;
};

}  // namespace

Host parse_host(const std::string& yaml_text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw Error(file_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  Reader reader(file_name);
  Parser parser(reader);
  return parser.parse(root);
}

}  // namespace pcipass::simhost
