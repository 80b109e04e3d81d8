#include <pcipass/host/libvirt.hpp>
#include <pcipass/host/libvirt_source.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <libvirt/libvirt.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Test seam. A definition in the test executable wins over libvirt's for the
// calls pcipass_host makes, so this one can record the flags pcipass asks for
// and, on request, make libvirt reject the capability filter the way drivers
// without filter support do ("unsupported flags", VIR_ERR_INVALID_ARG). The
// rejection is libvirt's own: the test driver refuses the ACTIVE flag.
namespace {
bool g_reject_capability_filter = false;
std::vector<unsigned int> g_listing_flags;
}  // namespace

extern "C" int virConnectListAllNodeDevices(virConnectPtr connection, virNodeDevicePtr** devices,
                                            unsigned int flags) {
  using Function = int (*)(virConnectPtr, virNodeDevicePtr**, unsigned int);
  static const auto libvirt_function =
      reinterpret_cast<Function>(dlsym(RTLD_NEXT, "virConnectListAllNodeDevices"));
  g_listing_flags.push_back(flags);
  if (g_reject_capability_filter && flags != 0) flags |= VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE;
  return libvirt_function(connection, devices, flags);
}

namespace pcipass::host {
namespace {

using core::ExitCode;
using core::PciAddress;

// A host for libvirt's test driver: a `<node>` whose `<device>` elements are
// node-device XML. The driver drops `<driver>` on load, so none is given.
constexpr std::string_view k_test_host = R"(<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>4</active><nodes>1</nodes>
    <sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
  <device>
    <name>pci_0000_00_00_0</name>
    <parent>computer</parent>
    <capability type='pci'>
      <class>0x060000</class>
      <domain>0</domain><bus>0</bus><slot>0</slot><function>0</function>
      <product id='0x14d8'/>
      <vendor id='0x1022'>Advanced Micro Devices, Inc. [AMD]</vendor>
      <iommuGroup number='0'>
        <address domain='0x0000' bus='0x00' slot='0x00' function='0x0'/>
      </iommuGroup>
    </capability>
  </device>
  <device>
    <name>pci_0000_00_01_1</name>
    <parent>computer</parent>
    <capability type='pci'>
      <class>0x060400</class>
      <domain>0</domain><bus>0</bus><slot>1</slot><function>1</function>
      <product id='0x14db'>Raphael/Granite Ridge GPP Bridge</product>
      <vendor id='0x1022'>Advanced Micro Devices, Inc. [AMD]</vendor>
      <iommuGroup number='1'>
        <address domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>
      </iommuGroup>
      <pci-express>
        <link validity='cap' port='0' speed='16' width='16'/>
        <link validity='sta' speed='16' width='16'/>
      </pci-express>
    </capability>
  </device>
  <device>
    <name>pci_0000_01_00_0</name>
    <parent>pci_0000_00_01_1</parent>
    <capability type='pci'>
      <class>0x030000</class>
      <domain>0</domain><bus>1</bus><slot>0</slot><function>0</function>
      <product id='0x2206'>GA102 [GeForce RTX 3080]</product>
      <vendor id='0x10de'>NVIDIA Corporation</vendor>
      <iommuGroup number='12'>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>
      </iommuGroup>
      <numa node='0'/>
    </capability>
  </device>
  <device>
    <name>pci_0000_01_00_1</name>
    <parent>pci_0000_00_01_1</parent>
    <capability type='pci'>
      <class>0x040300</class>
      <domain>0</domain><bus>1</bus><slot>0</slot><function>1</function>
      <product id='0x1aef'>GA102 High Definition Audio Controller</product>
      <vendor id='0x10de'>NVIDIA Corporation</vendor>
      <iommuGroup number='12'>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>
      </iommuGroup>
      <numa node='0'/>
    </capability>
  </device>
  <device>
    <name>pci_0000_3b_00_0</name>
    <parent>computer</parent>
    <capability type='pci'>
      <class>0x020000</class>
      <domain>0</domain><bus>59</bus><slot>0</slot><function>0</function>
      <product id='0x1592'>Ethernet Controller E810-C for QSFP</product>
      <vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='virt_functions' maxCount='8'>
        <address domain='0x0000' bus='0x3b' slot='0x01' function='0x0'/>
        <address domain='0x0000' bus='0x3b' slot='0x01' function='0x1'/>
      </capability>
      <iommuGroup number='40'>
        <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
      </iommuGroup>
      <numa node='1'/>
    </capability>
  </device>
  <device>
    <name>pci_0000_3b_01_0</name>
    <parent>pci_0000_3b_00_0</parent>
    <capability type='pci'>
      <class>0x020000</class>
      <domain>0</domain><bus>59</bus><slot>1</slot><function>0</function>
      <product id='0x1889'>Ethernet Adaptive Virtual Function</product>
      <vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='phys_function'>
        <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
      </capability>
      <iommuGroup number='41'>
        <address domain='0x0000' bus='0x3b' slot='0x01' function='0x0'/>
      </iommuGroup>
      <numa node='1'/>
    </capability>
  </device>
  <device>
    <name>pci_0000_3b_01_1</name>
    <parent>pci_0000_3b_00_0</parent>
    <capability type='pci'>
      <class>0x020000</class>
      <domain>0</domain><bus>59</bus><slot>1</slot><function>1</function>
      <product id='0x1889'>Ethernet Adaptive Virtual Function</product>
      <vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='phys_function'>
        <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>
      </capability>
      <iommuGroup number='42'>
        <address domain='0x0000' bus='0x3b' slot='0x01' function='0x1'/>
      </iommuGroup>
      <numa node='1'/>
    </capability>
  </device>
  <device>
    <name>net_ens1f0_b4_96_91_00_00_01</name>
    <parent>pci_0000_3b_00_0</parent>
    <capability type='net'>
      <interface>ens1f0</interface>
      <address>b4:96:91:00:00:01</address>
      <capability type='80203'/>
    </capability>
  </device>
</node>
)";

// libvirt's node-device parser does not range-check the slot; pcipass does.
constexpr std::string_view k_bad_slot_host = R"(<node>
  <device>
    <name>pci_0000_00_28_0</name>
    <parent>computer</parent>
    <capability type='pci'>
      <domain>0</domain><bus>0</bus><slot>40</slot><function>0</function>
      <product id='0x1042'>Virtio 1.0 block device</product>
      <vendor id='0x1af4'>Red Hat, Inc.</vendor>
    </capability>
  </device>
</node>
)";

PciAddress address(std::string_view text) { return *PciAddress::parse(text); }

class LibvirtSource : public ::testing::Test {
protected:
  void SetUp() override {
    g_reject_capability_filter = false;
    g_listing_flags.clear();
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pcipass-libvirt-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_directory = pattern;
  }

  void TearDown() override {
    g_reject_capability_filter = false;
    std::error_code ignored;
    std::filesystem::remove_all(m_directory, ignored);
  }

  // The test-driver URI of a host file holding `xml`.
  std::string host_uri(std::string_view xml, const std::string& file_name = "host.xml") {
    const std::filesystem::path path = m_directory / file_name;
    std::ofstream(path) << xml;
    return "test://" + path.string();
  }

  static LibvirtConnection connect(const std::string& uri) {
    return LibvirtConnection::open(uri, LibvirtConnection::Access::read_only).value_or_throw();
  }

  std::filesystem::path m_directory;
};

TEST_F(LibvirtSource, ReadsEveryPciDeviceOfTheHost) {
  const std::string uri = host_uri(k_test_host);
  const LibvirtConnection connection = connect(uri);
  EXPECT_EQ(connection.uri(), uri);

  auto inventory = read_libvirt_inventory(connection);
  ASSERT_TRUE(inventory) << inventory.error().message;

  std::vector<PciAddress> addresses;
  for (const auto& [device_address, device] : inventory->devices()) {
    addresses.push_back(device_address);
  }
  EXPECT_EQ(addresses, (std::vector<PciAddress>{address("00:00.0"), address("00:01.1"),
                                                address("01:00.0"), address("01:00.1"),
                                                address("3b:00.0"), address("3b:01.0"),
                                                address("3b:01.1")}));

  std::map<unsigned, std::vector<PciAddress>> groups;
  for (const auto& [number, group] : inventory->groups()) groups[number] = group.members;
  EXPECT_EQ(groups, (std::map<unsigned, std::vector<PciAddress>>{
                        {0, {address("00:00.0")}},
                        {1, {address("00:01.1")}},
                        {12, {address("01:00.0"), address("01:00.1")}},
                        {40, {address("3b:00.0")}},
                        {41, {address("3b:01.0")}},
                        {42, {address("3b:01.1")}}}));

  const core::PciDevice& gpu = *inventory->find(address("01:00.0"));
  EXPECT_EQ(gpu.ids(), "10de:2206");
  EXPECT_EQ(gpu.device_name, "GA102 [GeForce RTX 3080]");
  EXPECT_EQ(gpu.vendor_name, "NVIDIA Corporation");
  EXPECT_EQ(gpu.class_code, 0x030000u);
  EXPECT_EQ(gpu.numa_node, 0);
  EXPECT_EQ(gpu.header, core::HeaderKind::endpoint);

  EXPECT_EQ(inventory->find(address("00:01.1"))->header, core::HeaderKind::bridge);
  EXPECT_EQ(inventory->find(address("00:00.0"))->device_name, "");

  const core::PciDevice& pf = *inventory->find(address("3b:00.0"));
  EXPECT_EQ(pf.virtual_functions,
            (std::vector<PciAddress>{address("3b:01.0"), address("3b:01.1")}));
  EXPECT_EQ(pf.sriov_total_vfs, 8u);
  EXPECT_EQ(pf.sriov_num_vfs, 2u);
  EXPECT_EQ(pf.numa_node, 1);
  for (const char* vf : {"3b:01.0", "3b:01.1"}) {
    EXPECT_EQ(inventory->find(address(vf))->physical_function, address("3b:00.0")) << vf;
    EXPECT_EQ(inventory->find(address(vf))->ids(), "8086:1889") << vf;
  }

  // The test driver keeps no <driver> element; drivers from real XML are
  // covered by the nodedev parser's tests.
  for (const auto& [device_address, device] : inventory->devices()) {
    EXPECT_EQ(device.driver, "") << device_address.to_string();
  }
}

TEST_F(LibvirtSource, AsksLibvirtForPciDevicesOnly) {
  const LibvirtConnection connection = connect(host_uri(k_test_host));
  auto descriptions = connection.pci_node_device_xml();
  ASSERT_TRUE(descriptions) << descriptions.error().message;
  EXPECT_EQ(g_listing_flags,
            std::vector<unsigned int>{VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV});
  std::vector<std::string> names;
  for (const NodeDeviceXml& description : *descriptions) {
    names.push_back(description.name);
    EXPECT_NE(description.xml.find("<name>" + description.name + "</name>"), std::string::npos);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"pci_0000_00_00_0", "pci_0000_00_01_1",
                                             "pci_0000_01_00_0", "pci_0000_01_00_1",
                                             "pci_0000_3b_00_0", "pci_0000_3b_01_0",
                                             "pci_0000_3b_01_1"}));
}

TEST_F(LibvirtSource, ListsEveryDeviceWhenTheDriverRejectsTheFilter) {
  const LibvirtConnection connection = connect(host_uri(k_test_host));
  g_reject_capability_filter = true;

  auto descriptions = connection.pci_node_device_xml();
  ASSERT_TRUE(descriptions) << descriptions.error().message;
  EXPECT_EQ(g_listing_flags,
            (std::vector<unsigned int>{VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV, 0}));
  EXPECT_EQ(descriptions->size(), 8u);  // the net device too

  auto inventory = read_libvirt_inventory(connection);
  ASSERT_TRUE(inventory) << inventory.error().message;
  EXPECT_EQ(inventory->devices().size(), 7u);
  EXPECT_EQ(inventory->groups().size(), 6u);
}

TEST_F(LibvirtSource, NamesTheDeviceWhoseXmlIsBad) {
  const LibvirtConnection connection = connect(host_uri(k_bad_slot_host));
  auto inventory = read_libvirt_inventory(connection);
  ASSERT_FALSE(inventory);
  EXPECT_EQ(inventory.error().code, ExitCode::bad_input);
  EXPECT_EQ(inventory.error().message,
            "reading node device pci_0000_00_28_0: pci capability <slot> 40 is above 31");
}

TEST_F(LibvirtSource, ReportsAnUnreachableDaemonWithLibvirtsReason) {
  auto connection = LibvirtConnection::open("qemu+unix:///system?socket=/nonexistent",
                                            LibvirtConnection::Access::read_only);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ExitCode::host_error);
  EXPECT_EQ(connection.error().message,
            "connecting to libvirt at 'qemu+unix:///system?socket=/nonexistent': Failed to "
            "connect socket to '/nonexistent': No such file or directory");
}

TEST_F(LibvirtSource, ReportsAMissingTestHostFile) {
  const std::string path = (m_directory / "missing.xml").string();
  auto connection =
      LibvirtConnection::open("test://" + path, LibvirtConnection::Access::read_write);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ExitCode::host_error);
  EXPECT_EQ(connection.error().message, "connecting to libvirt at 'test://" + path +
                                            "': XML error: failed to parse xml document '" +
                                            path + "'");
}

// Sets an environment variable for the life of the object.
class ScopedEnvironment {
public:
  ScopedEnvironment(const char* name, const std::string& value) : m_name(name) {
    if (const char* old = std::getenv(name)) m_old = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    if (m_old) {
      setenv(m_name, m_old->c_str(), 1);
    } else {
      unsetenv(m_name);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

private:
  const char* m_name;
  std::optional<std::string> m_old;
};

TEST_F(LibvirtSource, EmptyUriHonoursLibvirtDefaultUri) {
  const std::string uri = host_uri(k_test_host);
  const ScopedEnvironment environment("LIBVIRT_DEFAULT_URI", uri);
  const LibvirtConnection connection = connect("");
  EXPECT_EQ(connection.uri(), uri);
}

TEST_F(LibvirtSource, NamesTheEnvironmentWhenTheDefaultUriFails) {
  const ScopedEnvironment environment("LIBVIRT_DEFAULT_URI",
                                      "qemu+unix:///system?socket=/nonexistent");
  auto connection = LibvirtConnection::open("", LibvirtConnection::Access::read_only);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().message,
            "connecting to libvirt at 'qemu+unix:///system?socket=/nonexistent' (from "
            "LIBVIRT_DEFAULT_URI): Failed to connect socket to '/nonexistent': No such file or "
            "directory");
}

TEST_F(LibvirtSource, MovedFromConnectionReportsItIsClosed) {
  LibvirtConnection connection = connect(host_uri(k_test_host));
  const LibvirtConnection moved = std::move(connection);
  EXPECT_NE(moved.raw(), nullptr);
  EXPECT_EQ(connection.raw(), nullptr);  // deliberately inspecting the moved-from state
  auto descriptions = connection.pci_node_device_xml();
  ASSERT_FALSE(descriptions);
  EXPECT_EQ(descriptions.error().message,
            "listing node devices: the libvirt connection is closed");
}

// Read-only against the machine's own daemon: lists node devices and reads
// their XML, nothing else.
TEST(LibvirtSystemDaemon, SeesTheBootDisk) {
  std::ifstream vendor_file("/sys/bus/pci/devices/0000:00:02.0/vendor");
  std::string vendor;
  if (!(vendor_file >> vendor) || vendor != "0x1af4") {
    GTEST_SKIP() << "this host has no virtio device at 0000:00:02.0";
  }
  auto connection =
      LibvirtConnection::open("qemu:///system", LibvirtConnection::Access::read_only);
  if (!connection) GTEST_SKIP() << connection.error().message;

  auto inventory = read_libvirt_inventory(*connection);
  ASSERT_TRUE(inventory) << inventory.error().message;
  const core::PciDevice* disk = inventory->find(address("0000:00:02.0"));
  ASSERT_NE(disk, nullptr);
  EXPECT_EQ(disk->vendor_id, 0x1af4);
}

}  // namespace
}  // namespace pcipass::host
