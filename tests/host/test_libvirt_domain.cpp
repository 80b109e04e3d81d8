// attach/detach of pcipass's <hostdev> through libvirt: the fallback path
// on libvirt's test driver, and the real API on the real daemon with
// throwaway domains (prefix pcipass-test-, always undefined). Never touches
// node devices: with managed='yes' libvirt would detach the host device only
// when a guest starts with it, and these guests never start with one.

#include "support/sim_host.hpp"

#include <pcipass/host/libvirt_domain.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <unistd.h>

namespace pcipass::host {
namespace {

using core::HostdevChange;

std::string hostdev_template() {
  std::ifstream in(test::source_path("xml-templates/hostdev-pci.xml"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

core::PciAddress addr(const char* text) { return *core::PciAddress::parse(text); }

std::string inactive_xml(const LibvirtConnection& c, const std::string& name) {
  virDomainPtr d = virDomainLookupByName(c.raw(), name.c_str());
  if (d == nullptr) return {};
  char* xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
  std::string out = xml ? xml : "";
  std::free(xml);
  virDomainFree(d);
  return out;
}

TEST(LibvirtDomain, ReadsEveryDomainsDefinition) {
  auto conn = LibvirtConnection::open("test:///default", LibvirtConnection::Access::read_only);
  ASSERT_TRUE(conn) << conn.error().message;
  auto domains = read_all_domains(*conn);
  ASSERT_TRUE(domains) << domains.error().message;
  ASSERT_EQ(domains->size(), 1u);  // the test driver's one guest
  EXPECT_EQ(domains->front().name, "test");
  EXPECT_EQ(domains->front().xml.name(), "test");
  EXPECT_EQ(domains->front().xml.memory_kib(), 8ull << 20);
}

TEST(LibvirtDomain, TestDriverFallsBackToRedefineAndIsIdempotent) {
  auto conn = LibvirtConnection::open("test:///default", LibvirtConnection::Access::read_write);
  ASSERT_TRUE(conn) << conn.error().message;
  auto r = attach_hostdev(*conn, "test", addr("0000:2d:00.1"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config, HostdevChange::added);
  EXPECT_TRUE(r->used_define_fallback);
  EXPECT_NE(inactive_xml(*conn, "test").find("<alias name='ua-pcipass-0000-2d-00-1'/>"), std::string::npos);

  r = attach_hostdev(*conn, "test", addr("0000:2d:00.1"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config, HostdevChange::already_present);
  EXPECT_FALSE(r->used_define_fallback);

  r = detach_hostdev(*conn, "test", addr("0000:2d:00.1"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config, HostdevChange::removed);
  EXPECT_EQ(inactive_xml(*conn, "test").find("hostdev"), std::string::npos);

  r = detach_hostdev(*conn, "test", addr("0000:2d:00.1"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config, HostdevChange::not_present);
}

TEST(LibvirtDomain, AttachesAGuestsDevicesTogetherAndSkipsRepeatsAndPresentOnes) {
  auto conn = LibvirtConnection::open("test:///default", LibvirtConnection::Access::read_write);
  ASSERT_TRUE(conn) << conn.error().message;
  auto r = attach_hostdev(*conn, "test", addr("0000:2d:00.2"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;

  auto all = attach_hostdevs(*conn, "test",
                             {addr("0000:2d:00.2"), addr("0000:2d:00.3"), addr("0000:2d:00.4"),
                              addr("0000:2d:00.3")},
                             hostdev_template(), AttachScope::config);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].config, HostdevChange::already_present);
  EXPECT_EQ((*all)[1].config, HostdevChange::added);
  EXPECT_EQ((*all)[2].config, HostdevChange::added);
  EXPECT_EQ((*all)[3].config, HostdevChange::already_present);  // listed twice
  const std::string xml = inactive_xml(*conn, "test");
  for (const char* alias : {"ua-pcipass-0000-2d-00-2", "ua-pcipass-0000-2d-00-3", "ua-pcipass-0000-2d-00-4"}) {
    EXPECT_NE(xml.find(alias), std::string::npos) << alias;
  }
  EXPECT_EQ(xml.find("ua-pcipass-0000-2d-00-3"), xml.rfind("ua-pcipass-0000-2d-00-3"));
}

TEST(LibvirtDomain, AttachingSeveralToAnUnknownDomainFailsLikeOne) {
  auto conn = LibvirtConnection::open("test:///default", LibvirtConnection::Access::read_write);
  ASSERT_TRUE(conn);
  auto r = attach_hostdevs(*conn, "nosuchguest", {addr("0000:2d:00.0"), addr("0000:2d:00.1")},
                           hostdev_template(), AttachScope::config);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::usage);
  EXPECT_EQ(r.error().message, "domain 'nosuchguest' at 'test:///default': Domain not found");
}

TEST(LibvirtDomain, UnknownDomainIsAUsageErrorWithLibvirtsReason) {
  auto conn = LibvirtConnection::open("test:///default", LibvirtConnection::Access::read_write);
  ASSERT_TRUE(conn);
  auto r = attach_hostdev(*conn, "nosuchguest", addr("0000:2d:00.0"), hostdev_template(),
                          AttachScope::config);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::usage);
  EXPECT_EQ(r.error().message,
            "domain 'nosuchguest' at 'test:///default': Domain not found");
}

// A throwaway domain on the real daemon, removed whatever happens.
class RealDaemonDomain : public ::testing::Test {
protected:
  void SetUp() override {
    auto conn = LibvirtConnection::open("qemu:///system", LibvirtConnection::Access::read_write);
    if (!conn) GTEST_SKIP() << "no libvirtd on qemu:///system: " << conn.error().message;
    m_conn.emplace(std::move(*conn));
    m_name = "pcipass-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string xml = "<domain type='qemu'><name>" + m_name +
                            "</name><memory unit='MiB'>64</memory><os><type arch='x86_64' "
                            "machine='q35'>hvm</type></os><devices><graphics type='vnc' "
                            "autoport='yes' listen='127.0.0.1'/></devices></domain>";
    virDomainPtr d = virDomainDefineXML(m_conn->raw(), xml.c_str());
    if (d == nullptr) {
      GTEST_SKIP() << "cannot define a qemu domain here: " << last_libvirt_error(m_conn->raw()).message;
    }
    virDomainFree(d);
    m_defined = true;
  }
  void TearDown() override {
    if (!m_conn || !m_defined) return;
    if (virDomainPtr d = virDomainLookupByName(m_conn->raw(), m_name.c_str())) {
      if (virDomainIsActive(d) == 1) virDomainDestroy(d);
      virDomainUndefine(d);
      virDomainFree(d);
    }
  }
  std::optional<LibvirtConnection> m_conn;
  std::string m_name;
  bool m_defined = false;
};

TEST_F(RealDaemonDomain, AttachAndDetachThePersistentDefinition) {
  auto r = attach_hostdev(*m_conn, m_name, addr("0000:2d:00.0"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config, HostdevChange::added);
  EXPECT_FALSE(r->used_define_fallback);  // the qemu driver has the attach API
  const std::string xml = inactive_xml(*m_conn, m_name);
  EXPECT_NE(xml.find("<address domain='0x0000' bus='0x2d' slot='0x00' function='0x0'/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("ua-pcipass-0000-2d-00-0"), std::string::npos) << xml;

  r = detach_hostdev(*m_conn, m_name, addr("0000:2d:00.0"), hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->config, HostdevChange::removed);
  EXPECT_EQ(inactive_xml(*m_conn, m_name).find("<hostdev"), std::string::npos);
}

TEST_F(RealDaemonDomain, AttachesSeveralDevicesWithOneDefineAndKeepsSecrets) {
  // A VNC password only the secure XML shows: defining the guest again must keep it.
  virDomainPtr d = virDomainLookupByName(m_conn->raw(), m_name.c_str());
  ASSERT_NE(d, nullptr);
  char* secure = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  std::string with_password = secure;
  std::free(secure);
  const std::size_t vnc = with_password.find("<graphics type='vnc'");
  ASSERT_NE(vnc, std::string::npos) << with_password;
  with_password.insert(vnc + 9, " passwd='s3cret'");
  virDomainPtr redefined = virDomainDefineXML(m_conn->raw(), with_password.c_str());
  ASSERT_NE(redefined, nullptr) << last_libvirt_error(m_conn->raw()).message;
  virDomainFree(redefined);
  virDomainFree(d);

  auto r = attach_hostdevs(*m_conn, m_name, {addr("0000:2d:00.0"), addr("0000:2e:00.0")},
                           hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  for (const HostdevResult& one : *r) EXPECT_EQ(one.config, HostdevChange::added);
  const std::string xml = inactive_xml(*m_conn, m_name);
  EXPECT_NE(xml.find("ua-pcipass-0000-2d-00-0"), std::string::npos) << xml;
  EXPECT_NE(xml.find("ua-pcipass-0000-2e-00-0"), std::string::npos) << xml;

  d = virDomainLookupByName(m_conn->raw(), m_name.c_str());
  ASSERT_NE(d, nullptr);
  secure = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  EXPECT_NE(std::string(secure).find("passwd='s3cret'"), std::string::npos) << secure;
  std::free(secure);
  virDomainFree(d);

  // Again: nothing to add, nothing defined.
  r = attach_hostdevs(*m_conn, m_name, {addr("0000:2d:00.0"), addr("0000:2e:00.0")},
                      hostdev_template(), AttachScope::config);
  ASSERT_TRUE(r) << r.error().message;
  for (const HostdevResult& one : *r) EXPECT_EQ(one.config, HostdevChange::already_present);
}

TEST_F(RealDaemonDomain, AFailedDefineOfSeveralDevicesChangesNothing) {
  // A driver libvirt does not know: the whole definition is refused.
  std::string bad = hostdev_template();
  const std::size_t driver = bad.find("<driver name='vfio'/>");
  ASSERT_NE(driver, std::string::npos);
  bad.replace(driver, 21, "<driver name='bogus'/>");
  const std::string before = inactive_xml(*m_conn, m_name);
  auto r = attach_hostdevs(*m_conn, m_name, {addr("0000:2d:00.0"), addr("0000:2e:00.0")}, bad,
                           AttachScope::config);
  if (r) GTEST_SKIP() << "this libvirt accepted the XML";
  EXPECT_EQ(r.error().code, core::ExitCode::host_error);
  EXPECT_TRUE(r.error().message.starts_with("attaching 0000:2d:00.0, 0000:2e:00.0 to domain '" +
                                            m_name + "': "))
      << r.error().message;
  EXPECT_EQ(inactive_xml(*m_conn, m_name), before);
}

TEST_F(RealDaemonDomain, LiveAttachToAStoppedGuestIsRefused) {
  auto r = attach_hostdev(*m_conn, m_name, addr("0000:2d:00.0"), hostdev_template(), AttachScope::live);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::refused);
  EXPECT_EQ(r.error().message, "attaching 0000:2d:00.0 to domain '" + m_name +
                                   "': the domain is not running; without --live pcipass changes "
                                   "its persistent definition");
}

TEST_F(RealDaemonDomain, LiveAttachOnAHostWithoutIommuFailsClearlyAndLeavesTheDefinition) {
  virDomainPtr d = virDomainLookupByName(m_conn->raw(), m_name.c_str());
  ASSERT_NE(d, nullptr);
  const int started = virDomainCreate(d);
  virDomainFree(d);
  if (started != 0) GTEST_SKIP() << "cannot start a TCG guest here: " << last_libvirt_error(m_conn->raw()).message;
  if (std::filesystem::exists("/sys/kernel/iommu_groups") &&
      !std::filesystem::is_empty("/sys/kernel/iommu_groups")) {
    GTEST_SKIP() << "this host has an IOMMU: a live attach would really detach a device";
  }
  // A device address that does not exist on this host: libvirt refuses it
  // before any node device could be touched.
  if (std::filesystem::exists("/sys/bus/pci/devices/0000:ee:1f.7")) {
    GTEST_SKIP() << "0000:ee:1f.7 exists on this host";
  }
  auto r = attach_hostdev(*m_conn, m_name, addr("0000:ee:1f.7"), hostdev_template(), AttachScope::live);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::host_error);
  EXPECT_TRUE(r.error().message.starts_with("attaching 0000:ee:1f.7 to domain '" + m_name + "' (live): "))
      << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(inactive_xml(*m_conn, m_name).find("<hostdev"), std::string::npos);
}

}  // namespace
}  // namespace pcipass::host
