#include <pcipass/core/domain_xml.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace pcipass::core {
namespace {

std::string hostdev_template() {
  std::ifstream in(std::string(PCIPASS_SOURCE_DIR) + "/xml-templates/hostdev-pci.xml");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

PciAddress addr(const char* text) {
  return *PciAddress::parse(text);
}

// As `virsh dumpxml` prints it, with a user's comment and a user's hostdev.
constexpr const char* k_guest = R"(<domain type='kvm'>
  <name>kdevops-xfs</name>
  <!-- keep this comment: the user wrote it -->
  <memory unit='GiB'>8</memory>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <source file='/var/lib/libvirt/images/xfs.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
      </source>
    </hostdev>
    <console type='pty'/>
  </devices>
</domain>
)";

TEST(DomainXml, ReadsNameMachineMemoryAndHostdevs) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->name(), "kdevops-xfs");
  EXPECT_EQ(d->machine(), "pc-q35-7.2");
  EXPECT_TRUE(d->is_q35());
  EXPECT_EQ(d->memory_kib(), 8ull * 1024 * 1024);
  const auto hostdevs = d->pci_hostdevs();
  ASSERT_EQ(hostdevs.size(), 1u);
  EXPECT_EQ(hostdevs[0].address, addr("0000:06:00.0"));
  EXPECT_EQ(hostdevs[0].owner, HostdevOwner::user);
}

TEST(DomainXml, AddsAMarkedHostdevAfterTheLastOneIndentedLikeItsSiblings) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d);
  ASSERT_EQ(*d->add_hostdev(addr("0000:2d:00.1"), hostdev_template()), HostdevChange::added);
  const std::string expected_hostdev = R"(    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x2d' slot='0x00' function='0x1'/>
      </source>
      <alias name='ua-pcipass-0000-2d-00-1'/>
    </hostdev>
    <console type='pty'/>)";
  const std::string out = d->to_string();
  EXPECT_NE(out.find(expected_hostdev), std::string::npos) << out;
  EXPECT_NE(out.find("<!-- keep this comment: the user wrote it -->"), std::string::npos);
  const auto hostdevs = d->pci_hostdevs();
  ASSERT_EQ(hostdevs.size(), 2u);
  EXPECT_EQ(hostdevs[1].owner, HostdevOwner::pcipass);
}

TEST(DomainXml, AddingTwiceChangesNothing) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d);
  ASSERT_EQ(*d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()), HostdevChange::added);
  const std::string once = d->to_string();
  EXPECT_EQ(*d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()),
            HostdevChange::already_present);
  EXPECT_EQ(d->to_string(), once);
  // A device the user already passes through is not added again either.
  EXPECT_EQ(*d->add_hostdev(addr("0000:06:00.0"), hostdev_template()),
            HostdevChange::already_present);
}

TEST(DomainXml, AddThenRemoveGivesBackTheOriginalDocument) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d);
  const std::string original = d->to_string();
  EXPECT_EQ(original, k_guest);  // parsing and writing alone change nothing
  ASSERT_TRUE(d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()));
  ASSERT_TRUE(d->add_hostdev(addr("0000:2d:00.1"), hostdev_template()));
  EXPECT_EQ(d->remove_hostdev(addr("0000:2d:00.1")), HostdevChange::removed);
  EXPECT_EQ(d->remove_hostdev(addr("0000:2d:00.0")), HostdevChange::removed);
  EXPECT_EQ(d->to_string(), original);
}

TEST(DomainXml, RemoveLeavesTheUsersHostdevsAlone) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->remove_hostdev(addr("0000:06:00.0")), HostdevChange::owned_by_user);
  EXPECT_EQ(d->remove_hostdev(addr("0000:07:00.0")), HostdevChange::not_present);
  EXPECT_EQ(d->to_string(), k_guest);
}

TEST(DomainXml, AddsIntoADomainWithoutHostdevsAndIntoACompactOne) {
  auto d = DomainXml::parse(
      "<domain type='kvm'><name>a</name><devices><disk type='file'/></devices></domain>");
  ASSERT_TRUE(d);
  ASSERT_EQ(*d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()), HostdevChange::added);
  auto again = DomainXml::parse(d->to_string());
  ASSERT_TRUE(again) << d->to_string();
  ASSERT_EQ(again->pci_hostdevs().size(), 1u);
  EXPECT_EQ(again->pci_hostdevs()[0].owner, HostdevOwner::pcipass);
}

TEST(DomainXml, MemoryUnitsAndPcMachines) {
  auto d = DomainXml::parse(
      "<domain><memory unit='MiB'>512</memory><os><type machine='pc-i440fx-7.2'>hvm</type></os>"
      "<devices/></domain>");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->memory_kib(), 512u * 1024);
  EXPECT_FALSE(d->is_q35());
  d = DomainXml::parse("<domain><memory>1048576</memory><devices/></domain>");
  EXPECT_EQ(d->memory_kib(), 1048576u);
  d = DomainXml::parse("<domain><memory unit='parsec'>1</memory><devices/></domain>");
  EXPECT_FALSE(d->memory_kib());
}

// What libvirt lets a guest lock with a vfio device on x86: unlimited with
// locked memory, else memtune's hard_limit, else memory (maxMemory is not
// it: libvirt raises the limit when memory is hot-plugged).
TEST(DomainXml, LockableMemoryFollowsLibvirtsOrder) {
  using Basis = LockableMemory::Basis;
  auto d = DomainXml::parse(
      "<domain><memory unit='GiB'>4</memory><maxMemory slots='2' unit='TiB'>1</maxMemory>"
      "<devices/></domain>");
  ASSERT_TRUE(d && d->lockable_memory());
  EXPECT_EQ(d->lockable_memory()->kib, 4ull << 20);
  EXPECT_EQ(d->lockable_memory()->basis, Basis::memory);
  d = DomainXml::parse(
      "<domain><memory unit='GiB'>4</memory>"
      "<memtune><hard_limit unit='g'>32</hard_limit></memtune><devices/></domain>");
  EXPECT_EQ(d->lockable_memory()->kib, 32ull << 20);  // units without case, as libvirt reads them
  EXPECT_EQ(d->lockable_memory()->basis, Basis::hard_limit);
  d = DomainXml::parse(
      "<domain><memory unit='GiB'>4</memory><memoryBacking><locked/></memoryBacking>"
      "<memtune><hard_limit unit='GiB'>8</hard_limit></memtune><devices/></domain>");
  EXPECT_EQ(d->lockable_memory()->basis, Basis::locked);
  // An invalid hard_limit is never skipped for the smaller <memory>.
  d = DomainXml::parse(
      "<domain><memory unit='GiB'>4</memory>"
      "<memtune><hard_limit unit='parsec'>1</hard_limit></memtune><devices/></domain>");
  EXPECT_FALSE(d->lockable_memory());
  // None given, or sizes no machine has (which would overflow): no answer.
  d = DomainXml::parse("<domain><devices/></domain>");
  EXPECT_FALSE(d->lockable_memory());
  d = DomainXml::parse("<domain><memory unit='TiB'>9223372036854775807</memory><devices/></domain>");
  EXPECT_FALSE(d->memory_kib());
  EXPECT_FALSE(d->lockable_memory());
  d = DomainXml::parse("<domain><memory unit='P'>1</memory><devices/></domain>");
  EXPECT_EQ(d->memory_kib(), 1ull << 40);
}

TEST(DomainXml, BadDocumentsFailWithOneClearLine) {
  auto d = DomainXml::parse("<domain><devices>");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ExitCode::bad_input);
  EXPECT_EQ(d.error().message,
            "domain XML is not well-formed: Start-end tags mismatch at offset 16");
  d = DomainXml::parse("<network><name>x</name></network>");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message,
            "not a libvirt domain: the root element is '<network>', expected <domain>");
  d = DomainXml::parse("<domain><name>g1</name></domain>");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "domain 'g1' has no <devices> element to put a <hostdev> into");
}

TEST(DomainXml, BrokenTemplateIsRefused) {
  auto d = DomainXml::parse(k_guest);
  ASSERT_TRUE(d);
  auto r = d->add_hostdev(addr("0000:2d:00.0"), "<hostdev><source/></hostdev>");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "the <hostdev> template is broken: it needs <hostdev><source><address/>");
  EXPECT_EQ(d->to_string(), k_guest);
}

TEST(DomainXml, AliasIsALibvirtUserAlias) {
  EXPECT_EQ(pcipass_alias(addr("0001:2d:1f.7")), "ua-pcipass-0001-2d-1f-7");
}

}  // namespace
}  // namespace pcipass::core

namespace pcipass::core {
namespace {

TEST(DomainXml, WhitespaceOnlyDevicesSurvivesAddThenRemove) {
  // Found by fuzz_domain_xml: removal took the user's whitespace with it.
  const std::string xml = "<domain type='kvm'>\n <devices>   \n  </devices>\n</domain>\n";
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d);
  ASSERT_EQ(*d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()), HostdevChange::added);
  EXPECT_EQ(d->remove_hostdev(addr("0000:2d:00.0")), HostdevChange::removed);
  EXPECT_EQ(d->to_string(), xml);
}

TEST(DomainXml, AnEmptyDevicesGetsTheHostdevOnItsOwnIndentedLines) {
  // It got `<devices>\n  <hostdev ...>` flush left and `</hostdev></devices>`.
  const std::string xml = "<domain type='kvm'>\n  <name>g</name>\n  <devices>\n  </devices>\n</domain>\n";
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d);
  ASSERT_EQ(*d->add_hostdev(addr("0000:02:00.0"), hostdev_template()), HostdevChange::added);
  EXPECT_EQ(d->to_string(),
            "<domain type='kvm'>\n  <name>g</name>\n  <devices>\n"
            "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
            "      <driver name='vfio'/>\n"
            "      <source>\n"
            "        <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"
            "      </source>\n"
            "      <alias name='ua-pcipass-0000-02-00-0'/>\n"
            "    </hostdev>\n"
            "  </devices>\n</domain>\n");
  EXPECT_EQ(d->remove_hostdev(addr("0000:02:00.0")), HostdevChange::removed);
  EXPECT_EQ(d->to_string(), xml);
  // An empty <devices/> gets it appended as it is: whitespace added there
  // could not be told from a user's when the hostdev is removed again.
  const std::string empty = "<domain type='kvm'>\n  <name>g</name>\n  <devices/>\n</domain>\n";
  auto compact = DomainXml::parse(empty);
  ASSERT_TRUE(compact);
  ASSERT_TRUE(compact->add_hostdev(addr("0000:02:00.0"), hostdev_template()));
  EXPECT_NE(compact->to_string().find("  <devices><hostdev"), std::string::npos)
      << compact->to_string();
  EXPECT_EQ(compact->remove_hostdev(addr("0000:02:00.0")), HostdevChange::removed);
  EXPECT_EQ(compact->to_string(), empty);
}

TEST(DomainXml, TextBeforeTheRootIsKeptByteForByte) {
  // pugixml drops the whitespace between top-level nodes; a file that starts
  // with a declaration and a comment must keep its line breaks.
  const std::string xml =
      "\xEF\xBB\xBF<?xml version='1.0'?>\n<!-- kept -->\n\n<!-- also kept -->\n"
      "<domain type='kvm'><name>g</name><devices/></domain>\n<!-- after -->\n";
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->to_string(), xml);
  ASSERT_EQ(*d->add_hostdev(addr("0000:2d:00.0"), hostdev_template()), HostdevChange::added);
  EXPECT_TRUE(
      d->to_string().starts_with("\xEF\xBB\xBF<?xml version='1.0'?>\n<!-- kept -->\n\n<!-- also "
                                 "kept -->\n<domain type='kvm'>"))
      << d->to_string();
  EXPECT_EQ(d->remove_hostdev(addr("0000:2d:00.0")), HostdevChange::removed);
  EXPECT_EQ(d->to_string(), xml);
}

TEST(DomainXml, DoctypeWithAnInternalSubsetStaysInThePrologue) {
  const std::string xml = "<!DOCTYPE domain [\n <!ENTITY x 'y'>\n]>\n<domain><devices/></domain>";
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->to_string(), xml);
}

// A guest file as people and kdevops write them: CRLF line ends, a DTD
// entity and its reference, an escaped quote and a character reference,
// an element written open and closed, double-quoted qemu:arg values.
constexpr const char* k_handwritten =
    "<?xml version=\"1.0\"?>\r\n"
    "<!DOCTYPE domain [<!ENTITY e \"entity text\">]>\r\n"
    "<domain type=\"kvm\" xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\">\r\n"
    "  <name>kdevops-zns</name>\r\n"
    "  <description>&e; and &quot;quotes&quot; and &#65;</description>\r\n"
    "  <devices>\r\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\r\n"
    "    <controller type=\"pci\" model=\"pcie-root\"></controller>\r\n"
    "  </devices>\r\n"
    "  <qemu:commandline>\r\n"
    "    <qemu:arg value='-global'/>\r\n"
    "    <qemu:arg value=\"ICH9-LPC.disable_s3=1\"/>\r\n"
    "  </qemu:commandline>\r\n"
    "</domain>\r\n";

TEST(DomainXml, EverythingButTheHostdevStaysByteForByte) {
  const std::string xml = k_handwritten;
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->to_string(), xml) << "an unchanged document is its own text";
  ASSERT_EQ(*d->add_hostdev(addr("0000:02:00.0"), hostdev_template()), HostdevChange::added);
  const std::string attached = d->to_string();
  // The file with the hostdev lines taken out again is the original: the
  // hostdev went in after the last device, on CRLF lines of its own.
  const std::size_t start = attached.find("\r\n    <hostdev ");
  const std::size_t end = attached.find("</hostdev>", start);
  ASSERT_NE(start, std::string::npos) << attached;
  ASSERT_NE(end, std::string::npos) << attached;
  std::string rest = attached;
  rest.erase(start, end + std::string("</hostdev>").size() - start);
  EXPECT_EQ(rest, xml);
  EXPECT_TRUE(attached.substr(0, start).ends_with("></controller>")) << attached;
  EXPECT_EQ(attached.find('\n', start + 2), attached.find("\r\n", start + 2) + 1)
      << "the added lines end in CRLF too";

  // Detach in a later run, from the file attach wrote: the original bytes.
  auto again = DomainXml::parse(attached);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->to_string(), attached);
  EXPECT_EQ(again->remove_hostdev(addr("0000:02:00.0")), HostdevChange::removed);
  EXPECT_EQ(again->to_string(), xml);
}

TEST(DomainXml, SeveralEditsInOneRunSpliceIntoTheOriginalText) {
  const std::string xml = k_handwritten;
  auto d = DomainXml::parse(xml);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_TRUE(d->add_hostdev(addr("0000:02:00.0"), hostdev_template()));
  ASSERT_TRUE(d->add_hostdev(addr("0000:03:00.0"), hostdev_template()));
  const std::string both = d->to_string();
  EXPECT_LT(both.find("bus='0x02'"), both.find("bus='0x03'")) << both;
  EXPECT_NE(both.find("&e; and &quot;quotes&quot; and &#65;"), std::string::npos) << both;
  EXPECT_EQ(d->remove_hostdev(addr("0000:02:00.0")), HostdevChange::removed);
  auto only_second = DomainXml::parse(xml);
  ASSERT_TRUE(only_second);
  ASSERT_TRUE(only_second->add_hostdev(addr("0000:03:00.0"), hostdev_template()));
  EXPECT_EQ(d->to_string(), only_second->to_string());
  EXPECT_EQ(d->remove_hostdev(addr("0000:03:00.0")), HostdevChange::removed);
  EXPECT_EQ(d->to_string(), xml);

  // A user's hostdev removed... is not pcipass's to remove; pcipass's own
  // hostdev in a file with a user's one beside it goes with its line only.
  auto mixed = DomainXml::parse(k_guest);
  ASSERT_TRUE(mixed);
  ASSERT_TRUE(mixed->add_hostdev(addr("0000:02:00.0"), hostdev_template()));
  auto reread = DomainXml::parse(mixed->to_string());
  ASSERT_TRUE(reread);
  EXPECT_EQ(reread->remove_hostdev(addr("0000:06:00.0")), HostdevChange::owned_by_user);
  EXPECT_EQ(reread->remove_hostdev(addr("0000:02:00.0")), HostdevChange::removed);
  EXPECT_EQ(reread->to_string(), k_guest);
}

TEST(DomainXml, HostdevFileNamesTheDeviceItAttaches) {
  // kdevops' per-device file: comments around one hostdev, hex without padding.
  const auto address = parse_hostdev_file(
      "<!-- PCIE passthrough device -->\n   <hostdev mode='subsystem' type='pci' "
      "managed='yes'>\n      <driver name='vfio'/>\n      <source>\n        <address "
      "domain='0x0' bus='0x2d' slot='0x0' function='0x1'/>\n      </source>\n    </hostdev>\n"
      "<!-- End of PCIE passthrough device -->\n",
      "f.xml");
  ASSERT_TRUE(address) << address.error().message;
  EXPECT_EQ(*address, addr("0000:2d:00.1"));

  // Read as libvirt reads it: a leading 0 is octal ("010" is bus 8).
  const auto octal = parse_hostdev_file(
      "<hostdev type='pci'><source><address domain='0' bus='010' slot='00' function='0'/>"
      "</source></hostdev>",
      "f.xml");
  ASSERT_TRUE(octal) << octal.error().message;
  EXPECT_EQ(*octal, addr("0000:08:00.0"));

  for (const char* bad : {"<hostdev", "<disk/>", "<hostdev type='usb'><source/></hostdev>",
                          "<hostdev type='pci'><source><address domain='0' bus='09' slot='0' "
                          "function='0'/></source></hostdev>",
                          "<hostdev type='pci'><source><address domain='0' bus='1' slot='0' "
                          "function='0'/></source></hostdev><hostdev/>",
                          "<hostdev type='pci'><source><address bus='0x2'/></source></hostdev>"}) {
    const auto r = parse_hostdev_file(bad, "guestfs/g/pcie_passthrough_x.xml");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ExitCode::bad_input) << bad;
    EXPECT_NE(r.error().message.find("guestfs/g/pcie_passthrough_x.xml"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace pcipass::core
