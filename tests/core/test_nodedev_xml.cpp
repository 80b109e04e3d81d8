#include <pcipass/core/nodedev_xml.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace pcipass::core {
namespace {

// `virsh -c qemu:///system nodedev-dumpxml pci_0000_00_02_0` on the build
// machine (libvirt 9.0.0): the virtio disk the machine boots from.
constexpr std::string_view k_real_virtio_disk = R"(<device>
  <name>pci_0000_00_02_0</name>
  <path>/sys/devices/pci0000:00/0000:00:02.0</path>
  <parent>computer</parent>
  <driver>
    <name>virtio-pci</name>
  </driver>
  <capability type='pci'>
    <class>0x018000</class>
    <domain>0</domain>
    <bus>0</bus>
    <slot>2</slot>
    <function>0</function>
    <product id='0x1042'>Virtio 1.0 block device</product>
    <vendor id='0x1af4'>Red Hat, Inc.</vendor>
  </capability>
</device>
)";

// The same machine's host bridge: pci.ids has no name for the product, so
// libvirt writes an empty element.
constexpr std::string_view k_real_host_bridge = R"(<device>
  <name>pci_0000_00_00_0</name>
  <path>/sys/devices/pci0000:00/0000:00:00.0</path>
  <parent>computer</parent>
  <capability type='pci'>
    <class>0x060000</class>
    <domain>0</domain>
    <bus>0</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x0d57'/>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <pci-express/>
  </capability>
</device>
)";

constexpr std::string_view k_real_computer = R"(<device>
  <name>computer</name>
  <capability type='system'>
    <hardware>
      <uuid>00000000-0000-0000-0000-000000000000</uuid>
    </hardware>
    <firmware>
    </firmware>
  </capability>
</device>
)";

constexpr std::string_view k_real_net = R"(<device>
  <name>net_eth0_02_fc_00_00_00_01</name>
  <path>/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0</path>
  <parent>pci_0000_00_03_0</parent>
  <capability type='net'>
    <interface>eth0</interface>
    <address>02:fc:00:00:00:01</address>
    <link speed='4294967295' state='up'/>
    <feature name='rx'/>
    <capability type='80203'/>
  </capability>
</device>
)";

constexpr std::string_view k_real_storage = R"(<device>
  <name>block_vda</name>
  <path>/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda</path>
  <devnode type='dev'>/dev/vda</devnode>
  <parent>pci_0000_00_02_0</parent>
  <capability type='storage'>
    <block>/dev/vda</block>
    <drive_type>disk</drive_type>
    <vendor>0x1af4</vendor>
    <size>274877906944</size>
  </capability>
</device>
)";

// An SR-IOV physical function with every element libvirt writes for one.
constexpr std::string_view k_sriov_pf = R"(<device>
  <name>pci_0000_3b_00_0</name>
  <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0</path>
  <parent>pci_0000_3a_00_0</parent>
  <driver>
    <name>ice</name>
  </driver>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>59</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x1592'>Ethernet Controller E810-C for QSFP</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='virt_functions' maxCount='256'>
      <address domain='0x0000' bus='0x3b' slot='0x01' function='0x0'/>
      <address domain='0x0000' bus='0x3b' slot='0x01' function='0x1'/>
      <address domain='0x0000' bus='0x3b' slot='0x01' function='0x2'/>
    </capability>
    <capability type='vpd'>
      <name>E810-C 100GbE</name>
      <fields access='readonly'>
        <change_level>A0</change_level>
        <part_number>K91258-010</part_number>
        <serial_number> F8G1234567 </serial_number>
      </fields>
      <fields access='readwrite'>
        <serial_number>not-the-card's</serial_number>
      </fields>
    </capability>
    <iommuGroup number='40'>
      <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
      <address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>
    </iommuGroup>
    <numa node='1'/>
    <pci-express>
      <link validity='cap' port='0' speed='16' width='16'/>
      <link validity='sta' speed='16' width='16'/>
    </pci-express>
  </capability>
</device>
)";

constexpr std::string_view k_sriov_vf = R"(<device>
  <name>pci_0000_3b_01_1</name>
  <parent>pci_0000_3a_00_0</parent>
  <driver>
    <name>vfio-pci</name>
  </driver>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>59</bus>
    <slot>1</slot>
    <function>1</function>
    <product id='0x1889'>Ethernet Adaptive Virtual Function</product>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='phys_function'>
      <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
    </capability>
    <iommuGroup number='42'>
      <address domain='0x0000' bus='0x3b' slot='0x01' function='0x1'/>
    </iommuGroup>
    <numa node='-1'/>
  </capability>
</device>
)";

PciDevice parsed(std::string_view xml) {
  auto device = parse_nodedev_xml(xml);
  if (!device) throw std::runtime_error(device.error().message);
  if (!*device) throw std::runtime_error("not a PCI device");
  return std::move(**device);
}

PciAddress address(std::string_view text) { return *PciAddress::parse(text); }

constexpr std::string_view k_address =
    "<domain>0</domain><bus>45</bus><slot>0</slot><function>0</function>";
constexpr std::string_view k_ids = "<product id='0x1234'/><vendor id='0x8086'/>";

// A device document whose pci capability holds `body`.
std::string device_xml(std::string_view body) {
  return "<device><name>pci_0000_2d_00_0</name><capability type='pci'>" + std::string(body) +
         "</capability></device>";
}

TEST(NodedevXml, ReadsRealVirtioDisk) {
  const PciDevice disk = parsed(k_real_virtio_disk);
  EXPECT_EQ(disk.address, address("0000:00:02.0"));
  EXPECT_EQ(disk.class_code, 0x018000u);
  EXPECT_EQ(disk.ids(), "1af4:1042");
  EXPECT_EQ(disk.vendor_name, "Red Hat, Inc.");
  EXPECT_EQ(disk.device_name, "Virtio 1.0 block device");
  EXPECT_EQ(disk.driver, "virtio-pci");
  EXPECT_EQ(disk.header, HeaderKind::endpoint);
  EXPECT_EQ(disk.iommu_group, std::nullopt);
  EXPECT_EQ(disk.numa_node, std::nullopt);
  EXPECT_EQ(disk.revision, std::nullopt);
  EXPECT_EQ(disk.subsystem_vendor_id, std::nullopt);
  EXPECT_EQ(disk.physical_function, std::nullopt);
  EXPECT_TRUE(disk.virtual_functions.empty());
  EXPECT_EQ(disk.sriov_total_vfs, std::nullopt);
}

TEST(NodedevXml, ReadsRealHostBridgeWithoutProductName) {
  const PciDevice bridge = parsed(k_real_host_bridge);
  EXPECT_EQ(bridge.address, address("0000:00:00.0"));
  EXPECT_EQ(bridge.ids(), "8086:0d57");
  EXPECT_EQ(bridge.device_name, "");
  EXPECT_EQ(bridge.vendor_name, "Intel Corporation");
  EXPECT_EQ(bridge.class_code, 0x060000u);
  EXPECT_EQ(bridge.driver, "");
  EXPECT_EQ(bridge.header, HeaderKind::endpoint);  // a host bridge is not a PCI-to-PCI bridge
}

TEST(NodedevXml, ReturnsNothingForOtherDevices) {
  for (std::string_view xml : {k_real_computer, k_real_net, k_real_storage}) {
    auto device = parse_nodedev_xml(xml);
    ASSERT_TRUE(device) << device.error().message;
    EXPECT_EQ(*device, std::nullopt) << xml;
  }
}

TEST(NodedevXml, ReadsSriovPhysicalFunction) {
  const PciDevice pf = parsed(k_sriov_pf);
  EXPECT_EQ(pf.address, address("0000:3b:00.0"));
  EXPECT_EQ(pf.ids(), "8086:1592");
  EXPECT_EQ(pf.device_name, "Ethernet Controller E810-C for QSFP");
  EXPECT_EQ(pf.driver, "ice");
  EXPECT_EQ(pf.iommu_group, 40u);
  EXPECT_EQ(pf.numa_node, 1);
  EXPECT_EQ(pf.sriov_total_vfs, 256u);
  EXPECT_EQ(pf.sriov_num_vfs, 3u);
  EXPECT_EQ(pf.virtual_functions, (std::vector<PciAddress>{address("3b:01.0"), address("3b:01.1"),
                                                           address("3b:01.2")}));
  EXPECT_EQ(pf.physical_function, std::nullopt);
  EXPECT_EQ(pf.header, HeaderKind::endpoint);
  // The VPD's read-only serial: what tells this card from its twin.
  EXPECT_EQ(pf.vpd_serial, "F8G1234567");
}

TEST(NodedevXml, ReadsSriovVirtualFunction) {
  const PciDevice vf = parsed(k_sriov_vf);
  EXPECT_EQ(vf.address, address("0000:3b:01.1"));
  EXPECT_EQ(vf.physical_function, address("0000:3b:00.0"));
  EXPECT_TRUE(vf.on_vfio());
  EXPECT_EQ(vf.iommu_group, 42u);
  EXPECT_EQ(vf.numa_node, std::nullopt);  // the kernel's -1
  EXPECT_EQ(vf.sriov_total_vfs, std::nullopt);
}

TEST(NodedevXml, ReadsPhysicalFunctionWithoutEnabledVirtualFunctions) {
  const PciDevice pf = parsed(device_xml(std::string(k_address) + std::string(k_ids) +
                                         "<capability type='virt_functions' maxCount='7'/>"));
  EXPECT_EQ(pf.sriov_total_vfs, 7u);
  EXPECT_EQ(pf.sriov_num_vfs, 0u);
  EXPECT_TRUE(pf.virtual_functions.empty());
}

TEST(NodedevXml, TellsBridgesByCapabilityOrClass) {
  const std::string common = std::string(k_address) + std::string(k_ids);
  EXPECT_EQ(parsed(device_xml(common + "<capability type='pci-bridge'/>")).header,
            HeaderKind::bridge);
  EXPECT_EQ(parsed(device_xml(common + "<capability type='cardbus-bridge'/>")).header,
            HeaderKind::bridge);
  EXPECT_EQ(parsed(device_xml("<class>0x060400</class>" + common)).header, HeaderKind::bridge);
  EXPECT_EQ(parsed(device_xml("<class>0x060700</class>" + common)).header, HeaderKind::bridge);
  EXPECT_EQ(parsed(device_xml("<class>0x030000</class>" + common)).header, HeaderKind::endpoint);
  EXPECT_EQ(parsed(device_xml(common)).header, HeaderKind::unknown);
}

TEST(NodedevXml, ReadsHexAddressElementsAndWideDomains) {
  const PciDevice device = parsed(device_xml(
      "<domain>0x10000</domain><bus>0xe1</bus><slot>0x1f</slot><function>0x7</function>" +
      std::string(k_ids)));
  EXPECT_EQ(device.address, address("10000:e1:1f.7"));
}

TEST(NodedevXml, ReadsAddressAttributesLikeLibvirt) {
  // libvirt reads these with strtoul base 0: decimal, 0x hex, leading-0 octal.
  const PciDevice vf = parsed(device_xml(
      std::string(k_address) + std::string(k_ids) +
      "<capability type='phys_function'>"
      "<address domain='0' bus='45' slot='010' function='0X1'/></capability>"));
  EXPECT_EQ(vf.physical_function, address("0000:2d:08.1"));
}

TEST(NodedevXml, ReadsIommuGroupWithSeveralMembers) {
  const PciDevice gpu = parsed(device_xml(
      "<class>0x030000</class>" + std::string(k_address) + std::string(k_ids) +
      "<iommuGroup number='12'>"
      "<address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>"
      "<address domain='0x0000' bus='0x2d' slot='0x00' function='0x0'/>"
      "<address domain='0x0000' bus='0x2d' slot='0x00' function='0x1'/>"
      "</iommuGroup><numa node='0'/>"));
  EXPECT_EQ(gpu.iommu_group, 12u);
  EXPECT_EQ(gpu.numa_node, 0);
}

TEST(NodedevXml, IgnoresUnknownElementsAndCapabilities) {
  const PciDevice device = parsed(device_xml(
      std::string(k_address) + std::string(k_ids) +
      "<capability type='mdev_types'><type id='nvidia-35'><name>GRID M60-0B</name>"
      "<deviceAPI>vfio-pci</deviceAPI><availableInstances>16</availableInstances></type>"
      "</capability><frobnicator level='11'/><numa/>"));
  EXPECT_EQ(device.address, address("0000:2d:00.0"));
  EXPECT_EQ(device.numa_node, std::nullopt);
}

TEST(NodedevXml, SanitizesHostileNames) {
  const PciDevice device = parsed(device_xml(
      std::string(k_address) +
      "<product id='0x1234'>$(shell,reboot) `id` &quot;quoted&quot; &lt;b&gt;</product>"
      "<vendor id='0x8086'>Bad\xff bytes\nand\tlines &#x2028;end</vendor>"));
  EXPECT_EQ(device.device_name, "$(shell,reboot) `id` \"quoted\" <b>");
  // U+2028 breaks lines in some consumers: each of its three bytes becomes U+FFFD.
  EXPECT_EQ(device.vendor_name,
            "Bad\xef\xbf\xbd bytes and lines \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
            "end");
}

TEST(NodedevXml, SanitizesHostileDriverNames) {
  const std::string xml =
      "<device><name>x</name><driver><name>vfio-pci\nrm -rf</name></driver>"
      "<capability type='pci'>" +
      std::string(k_address) + std::string(k_ids) + "</capability></device>";
  EXPECT_EQ(parsed(xml).driver, "vfio-pci rm -rf");
}

struct Rejected {
  const char* name;
  std::string xml;
  const char* message;
};

void PrintTo(const Rejected& rejected, std::ostream* out) { *out << rejected.name; }

class NodedevXmlRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(NodedevXmlRejects, WithReason) {
  auto device = parse_nodedev_xml(GetParam().xml);
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code, ExitCode::bad_input);
  EXPECT_EQ(device.error().message, GetParam().message);
}

std::string with_address(std::string_view domain, std::string_view bus, std::string_view slot,
                         std::string_view function) {
  return device_xml("<domain>" + std::string(domain) + "</domain><bus>" + std::string(bus) +
                    "</bus><slot>" + std::string(slot) + "</slot><function>" +
                    std::string(function) + "</function>" + std::string(k_ids));
}

std::string with_body(std::string_view extra) {
  return device_xml(std::string(k_address) + std::string(k_ids) + std::string(extra));
}

INSTANTIATE_TEST_SUITE_P(
    BadXml, NodedevXmlRejects,
    ::testing::Values(
        Rejected{"Empty", "",
                 "node-device XML is not well-formed: No document element found at offset 0"},
        Rejected{"MismatchedTags", "<device><name>x</device>",
                 "node-device XML is not well-formed: Start-end tags mismatch at offset 17"},
        Rejected{"Truncated", "<device><capability type='pci'",
                 "node-device XML is not well-formed: Error parsing start element tag at "
                 "offset 29"},
        Rejected{"WrongRoot", "<domain type='kvm'/>",
                 "node-device XML has root element 'domain', expected 'device'"},
        Rejected{"HostileRoot", "<d\xc3\xa9vice/>",
                 "node-device XML has root element 'd\\xc3\\xa9vice', expected 'device'"},
        Rejected{"NoDomain",
                 device_xml("<bus>0</bus><slot>0</slot><function>0</function>" +
                            std::string(k_ids)),
                 "pci capability has no <domain>"},
        Rejected{"NoBus",
                 device_xml("<domain>0</domain><slot>0</slot><function>0</function>" +
                            std::string(k_ids)),
                 "pci capability has no <bus>"},
        Rejected{"NoSlot",
                 device_xml("<domain>0</domain><bus>0</bus><function>0</function>" +
                            std::string(k_ids)),
                 "pci capability has no <slot>"},
        Rejected{"NoFunction",
                 device_xml("<domain>0</domain><bus>0</bus><slot>0</slot>" + std::string(k_ids)),
                 "pci capability has no <function>"},
        Rejected{"DomainTooWide", with_address("4294967296", "0", "0", "0"),
                 "pci capability <domain> 4294967296 is above 4294967295"},
        Rejected{"BusAboveRange", with_address("0", "256", "0", "0"),
                 "pci capability <bus> 256 is above 255"},
        Rejected{"SlotAboveRange", with_address("0", "0", "32", "0"),
                 "pci capability <slot> 32 is above 31"},
        Rejected{"FunctionAboveRange", with_address("0", "0", "0", "0x8"),
                 "pci capability <function> 8 is above 7"},
        Rejected{"NegativeBus", with_address("0", "-1", "0", "0"),
                 "pci capability <bus> '-1' is not a number"},
        Rejected{"TextBus", with_address("0", "two", "0", "0"),
                 "pci capability <bus> 'two' is not a number"},
        Rejected{"EmptySlot", with_address("0", "0", "", "0"),
                 "pci capability <slot> '' is not a number"},
        Rejected{"BadClass", device_xml("<class>0xzz</class>" + std::string(k_address)),
                 "pci capability <class> '0xzz' is not a 24-bit hex class code"},
        Rejected{"WideClass", device_xml("<class>0x1000000</class>" + std::string(k_address)),
                 "pci capability <class> '0x1000000' is not a 24-bit hex class code"},
        Rejected{"NoVendor", device_xml(std::string(k_address) + "<product id='0x1234'/>"),
                 "pci capability has no <vendor id=...>"},
        Rejected{"NoProductId",
                 device_xml(std::string(k_address) + "<product>Thing</product><vendor id='8086'/>"),
                 "pci capability has no <product id=...>"},
        Rejected{"BadVendorId",
                 device_xml(std::string(k_address) + "<product id='0x1234'/><vendor id='Intel'/>"),
                 "pci capability <vendor> id 'Intel' is not a 16-bit hex number"},
        Rejected{"WideProductId",
                 device_xml(std::string(k_address) + "<product id='0x10000'/><vendor id='8086'/>"),
                 "pci capability <product> id '0x10000' is not a 16-bit hex number"},
        Rejected{"BadGroupNumber", with_body("<iommuGroup number='twelve'/>"),
                 "<iommuGroup> number 'twelve' is not a group number"},
        Rejected{"GroupWithoutNumber", with_body("<iommuGroup/>"),
                 "<iommuGroup> has no number attribute"},
        Rejected{"GroupMemberWithoutBus",
                 with_body("<iommuGroup number='1'><address domain='0' slot='0' function='0'/>"
                           "</iommuGroup>"),
                 "<iommuGroup> <address> has no bus attribute"},
        Rejected{"GroupMemberSlotAboveRange",
                 with_body("<iommuGroup number='1'>"
                           "<address domain='0x0' bus='0x00' slot='0x20' function='0x0'/>"
                           "</iommuGroup>"),
                 "<iommuGroup> <address> slot 0x20 is above 0x1f"},
        Rejected{"BadNumaNode", with_body("<numa node='first'/>"),
                 "<numa> node 'first' is not a node number"},
        Rejected{"BadMaxCount", with_body("<capability type='virt_functions' maxCount='-1'/>"),
                 "<virt_functions> maxCount '-1' is not a number"},
        Rejected{"VirtualFunctionAboveRange",
                 with_body("<capability type='virt_functions' maxCount='8'>"
                           "<address domain='0x0' bus='0x2d' slot='0x00' function='0x8'/>"
                           "</capability>"),
                 "<virt_functions> <address> function 0x8 is above 0x7"},
        Rejected{"BadPhysicalFunction",
                 with_body("<capability type='phys_function'>"
                           "<address domain='0x0' bus='0xzz' slot='0x00' function='0x0'/>"
                           "</capability>"),
                 "<phys_function> <address> bus '0xzz' is not a number"},
        Rejected{"PhysicalFunctionDomainTooWide",
                 with_body("<capability type='phys_function'>"
                           "<address domain='0x100000000' bus='0' slot='0' function='0'/>"
                           "</capability>"),
                 "<phys_function> <address> domain 0x100000000 is above 0xffffffff"}),
    [](const ::testing::TestParamInfo<Rejected>& test) { return std::string(test.param.name); });

// Fuzzing comes later; until then every prefix and byte-flipped copy of a
// full document must parse or fail cleanly.
TEST(NodedevXml, NeverCrashesOnMangledInput) {
  const std::string full(k_sriov_pf);
  for (std::size_t length = 0; length <= full.size(); ++length) {
    (void)parse_nodedev_xml(std::string_view(full).substr(0, length));
  }
  std::mt19937 random(20240601);
  std::uniform_int_distribution<std::size_t> position(0, full.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string mangled = full;
    for (int flip = 0; flip < 4; ++flip) {
      mangled[position(random)] = static_cast<char>(byte(random));
    }
    (void)parse_nodedev_xml(mangled);
  }
}

}  // namespace
}  // namespace pcipass::core
