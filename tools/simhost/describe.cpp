// What the generator says about a host besides the tree: the libvirt
// test-driver file (libvirt's node-device XML, see formatnode and
// nodedev.rng) and an extra pci.ids.
#include "simhost.hpp"

#include <cstdio>
#include <functional>
#include <map>

namespace pcipass::simhost {
namespace {

// One UTF-8 sequence starting at `i`: its code point and length, or -1 when
// the bytes are not strict UTF-8 (overlong, surrogate, past U+10FFFF).
std::pair<long, std::size_t> decode_utf8(const Bytes& s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return {lead, 1};
  std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (length == 0 || lead > 0xf4 || i + length > s.size()) return {-1, 1};
  long code = lead & (0x3f >> (length - 1));
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return {-1, 1};
    code = code << 6 | (byte(i + k) & 0x3f);
  }
  static const long minimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < minimum[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
    return {-1, 1};
  return {code, length};
}

bool xml_char(long c) {
  return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
         (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
}

std::string nodedev_name(const PciAddress& a) {
  char name[32];
  std::snprintf(name, sizeof name, "pci_%04x_%02x_%02x_%x", a.domain, a.bus, a.slot, a.function);
  return name;
}

std::string address_element(const PciAddress& a) {
  char text[96];
  std::snprintf(text, sizeof text,
                "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>", a.domain,
                a.bus, a.slot, a.function);
  return text;
}

// libvirt's virNodeDeviceGenerateName(): anything but letters and digits
// becomes '_'.
std::string sanitized(const Bytes& text) {
  std::string out = text;
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
  return out;
}

std::string speed_text(double gts) {
  return gts == 2.5 ? "2.5" : std::to_string(static_cast<int>(gts));
}

class NodeXml {
 public:
  explicit NodeXml(const Host& host) : m_host(host) {
    for (const PciIdsVendor& v : host.pci_ids) {
      m_vendor_names[v.vendor] = v.name;
      for (const PciIdsDevice& d : v.devices) m_device_names[{v.vendor, d.device}] = d.name;
    }
    for (const Device& d : host.devices)
      if (d.iommu_group) m_groups[*d.iommu_group].push_back(d.address);
  }

  std::string text() {
    m_out = "<node>\n";
    m_out += "  <!-- pcipass-simhost host " + comment(m_host.name) +
             ": use as virsh -c test:///ABSOLUTE/PATH -->\n";
    m_out +=
        "  <cpu>\n    <mhz>3000</mhz>\n    <model>x86_64</model>\n    <active>16</active>\n"
        "    <nodes>1</nodes>\n    <sockets>1</sockets>\n    <cores>8</cores>\n    "
        "<threads>2</threads>\n"
        "  </cpu>\n  <memory>67108864</memory>\n";
    computer();
    for (const Device& d : m_host.devices) pci(d);
    for (const Device& d : m_host.devices) {
      for (const NetInterface& n : d.net) net(d, n);
      for (const NvmeController& c : d.nvme)
        for (const Disk& ns : c.namespaces)
          storage(d, "/" + d.sysfs_path + "/nvme/" + c.name + "/" + ns.name, ns, c.model, c.serial);
      for (const Disk& disk : d.block)
        storage(d,
                "/" + d.sysfs_path + "/" + (disk.subdir.empty() ? "" : disk.subdir + "/") +
                    "block/" + disk.name,
                disk, "", "");
    }
    m_out += "</node>\n";
    return std::move(m_out);
  }

 private:
  // "--" cannot appear inside an XML comment.
  static std::string comment(const Bytes& text) {
    std::string out = xml_escape(text);
    for (std::size_t at = out.find("--"); at != std::string::npos; at = out.find("--", at))
      out.replace(at, 2, "- ");
    return out;
  }

  void computer() {
    // A stable UUID from the host name, so regenerating gives the same file.
    const std::size_t h = std::hash<std::string>{}(m_host.name);
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012llx",
                  static_cast<unsigned>(h & 0xffffffff),
                  static_cast<unsigned long long>(h >> 16) & 0xffffffffffffULL);
    m_out += "  <device>\n    <name>computer</name>\n    <capability type='system'>\n";
    m_out += "      <product>" + xml_escape(m_host.name) + "</product>\n";
    m_out += "      <hardware>\n        <vendor>pcipass-simhost</vendor>\n        <uuid>" +
             std::string(uuid) + "</uuid>\n      </hardware>\n";
    m_out += "      <firmware>\n        <vendor>pcipass-simhost</vendor>\n      </firmware>\n";
    m_out += "    </capability>\n  </device>\n";
  }

  std::string parent_name(const Device& d) const {
    return d.parent ? nodedev_name(*d.parent) : "computer";
  }

  void pci(const Device& d) {
    const PciAddress& a = d.address;
    m_out += "  <device>\n    <name>" + nodedev_name(a) + "</name>\n";
    m_out += "    <path>/sys/" + xml_escape(d.sysfs_path) + "</path>\n";
    m_out += "    <parent>" + parent_name(d) + "</parent>\n";
    if (!d.driver.empty())
      m_out += "    <driver>\n      <name>" + xml_escape(d.driver) + "</name>\n    </driver>\n";
    m_out += "    <capability type='pci'>\n";
    m_out += "      <class>0x" + hex(d.class_code, 6) + "</class>\n";
    m_out += "      <domain>" + std::to_string(a.domain) + "</domain>\n      <bus>" +
             std::to_string(a.bus) + "</bus>\n      <slot>" + std::to_string(a.slot) +
             "</slot>\n      <function>" + std::to_string(a.function) + "</function>\n";
    m_out += "      <product id='0x" + hex(d.device, 4) + "'>" + xml_escape(device_name(d)) +
             "</product>\n";
    m_out += "      <vendor id='0x" + hex(d.vendor, 4) + "'>" + xml_escape(vendor_name(d)) +
             "</vendor>\n";
    if (d.physfn)
      m_out += "      <capability type='phys_function'>\n        " + address_element(*d.physfn) +
               "\n      </capability>\n";
    if (d.sriov) {
      m_out += "      <capability type='virt_functions' maxCount='" +
               std::to_string(d.sriov->total_vfs) + "'>\n";
      for (const PciAddress& vf : d.virtfns) m_out += "        " + address_element(vf) + "\n";
      m_out += "      </capability>\n";
    }
    if (d.is_bridge()) m_out += "      <capability type='pci-bridge'/>\n";
    if (d.iommu_group) {
      m_out += "      <iommuGroup number='" + std::to_string(*d.iommu_group) + "'>\n";
      for (const PciAddress& member : m_groups.at(*d.iommu_group))
        m_out += "        " + address_element(member) + "\n";
      m_out += "      </iommuGroup>\n";
    }
    if (d.numa_node >= 0) m_out += "      <numa node='" + std::to_string(d.numa_node) + "'/>\n";
    if (d.is_pcie() && d.pcie != PortType::rc_endpoint) {
      const bool port = d.pcie == PortType::root_port || d.pcie == PortType::downstream;
      const std::string link = "speed='" + speed_text(d.link.speed) + "' width='" +
                               std::to_string(d.link.width) + "'/>\n";
      m_out += "      <pci-express>\n";
      m_out +=
          "        <link validity='cap' port='" + std::to_string(port ? a.slot : 0) + "' " + link;
      m_out += "        <link validity='sta' " + link;
      m_out += "      </pci-express>\n";
    }
    m_out += "    </capability>\n  </device>\n";
  }

  void net(const Device& d, const NetInterface& n) {
    const std::string dir = "/" + d.sysfs_path +
                            (d.virtio_index >= 0 ? "/virtio" + std::to_string(d.virtio_index) : "");
    m_out += "  <device>\n    <name>net_" + xml_escape(sanitized(n.name)) + "_" + sanitized(n.mac) +
             "</name>\n";
    m_out += "    <path>/sys" + xml_escape(dir) + "/net/" + xml_escape(n.name) + "</path>\n";
    m_out += "    <parent>" + nodedev_name(d.address) + "</parent>\n";
    m_out +=
        "    <capability type='net'>\n      <interface>" + xml_escape(n.name) + "</interface>\n";
    m_out += "      <address>" + n.mac + "</address>\n";
    m_out += "      <link state='" + n.operstate + "'/>\n";
    m_out += "      <capability type='80203'/>\n    </capability>\n  </device>\n";
  }

  void storage(const Device& d, const std::string& path, const Disk& disk, const Bytes& model,
               const Bytes& serial) {
    m_out += "  <device>\n    <name>block_" + sanitized(disk.name) +
             (serial.empty() ? "" : "_" + sanitized(serial)) + "</name>\n";
    m_out += "    <path>/sys" + xml_escape(path) + "</path>\n";
    m_out += "    <devnode type='dev'>/dev/" + xml_escape(disk.name) + "</devnode>\n";
    m_out += "    <parent>" + nodedev_name(d.address) + "</parent>\n";
    m_out += "    <capability type='storage'>\n      <block>/dev/" + xml_escape(disk.name) +
             "</block>\n";
    m_out += "      <drive_type>disk</drive_type>\n";
    if (!model.empty()) m_out += "      <model>" + xml_escape(model) + "</model>\n";
    if (!serial.empty()) m_out += "      <serial>" + xml_escape(serial) + "</serial>\n";
    m_out += "      <size>" + std::to_string(disk.size_sectors * 512) + "</size>\n";
    m_out += "      <logical_block_size>512</logical_block_size>\n";
    m_out += "      <num_blocks>" + std::to_string(disk.size_sectors) + "</num_blocks>\n";
    m_out += "    </capability>\n  </device>\n";
  }

  Bytes vendor_name(const Device& d) const {
    if (!d.vendor_name.empty()) return d.vendor_name;
    auto it = m_vendor_names.find(d.vendor);
    return it == m_vendor_names.end() ? Bytes() : it->second;
  }

  Bytes device_name(const Device& d) const {
    if (!d.device_name.empty()) return d.device_name;
    auto it = m_device_names.find({d.vendor, d.device});
    return it == m_device_names.end() ? Bytes() : it->second;
  }

  const Host& m_host;
  std::string m_out;
  std::map<unsigned, Bytes> m_vendor_names;
  std::map<std::pair<unsigned, unsigned>, Bytes> m_device_names;
  std::map<unsigned, std::vector<PciAddress>> m_groups;
};

}  // namespace

std::string xml_escape(const Bytes& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto [code, length] = decode_utf8(text, i);
    if (code < 0 || !xml_char(code))
      out += "\xef\xbf\xbd";  // U+FFFD
    else if (code == '&')
      out += "&amp;";
    else if (code == '<')
      out += "&lt;";
    else if (code == '>')
      out += "&gt;";
    else if (code == '"')
      out += "&quot;";
    else if (code == '\'')
      out += "&apos;";
    else if (code == '\r')
      out += "&#13;";  // parsers would turn a raw CR into LF
    else
      out.append(text, i, length);
    i += length;
  }
  return out;
}

std::string libvirt_test_xml(const Host& host) {
  return NodeXml(host).text();
}

std::string pci_ids_text(const Host& host) {
  std::string out =
      "# Extra PCI ids for a simulated host, written by pcipass-simhost.\n"
      "# Syntax: vendor, then TAB device, each \"ID  name\".\n";
  for (const PciIdsVendor& v : host.pci_ids) {
    out += hex(v.vendor, 4) + "  " + v.name + "\n";
    for (const PciIdsDevice& d : v.devices) out += "\t" + hex(d.device, 4) + "  " + d.name + "\n";
  }
  return out;
}

}  // namespace pcipass::simhost
