// `pcipass attach` and `pcipass detach` end to end: on domain XML files,
// on libvirt's test driver (the define fallback), and on the real daemon at
// qemu:///system with throwaway domains. The inventory is always the
// simulated workstation: the addresses only appear in XML, and no guest is
// ever started with a <hostdev> (libvirt would detach a real device).

#include "support/sim_host.hpp"

#include <pcipass/host/libvirt.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <fstream>
#include <optional>
#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

std::string workstation_sys() {
  return (sim_host("workstation") / "sys").string();
}

// `pcipass` with the simulated workstation as inventory, whatever -c says.
std::vector<std::string> on_workstation(std::vector<std::string> args) {
  args.insert(args.begin(), {"--sysfs-root", workstation_sys(), "--source", "sysfs"});
  return args;
}

// What a file holds and when it was last written, to check "untouched".
struct FileState {
  std::string bytes;
  timespec mtime{};
  explicit FileState(const fs::path& path) : bytes(test::file_text(path)) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    mtime = st.st_mtim;
  }
  bool operator==(const FileState& other) const {
    return bytes == other.bytes && mtime.tv_sec == other.mtime.tv_sec &&
           mtime.tv_nsec == other.mtime.tv_nsec;
  }
};

// libvirt's own schema check of an XML text.
void expect_valid_domain_xml(const std::string& xml) {
  TempDir dir;
  const fs::path file = dir.path() / "domain.xml";
  test::put_file(file, xml);
  const auto r = run_command({"virt-xml-validate", file.string(), "domain"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << xml;
}

std::string hostdev_of(const std::string& bus, const std::string& slot,
                       const std::string& function) {
  return "<address domain='0x0000' bus='0x" + bus + "' slot='0x" + slot + "' function='0x" +
         function + "'/>";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------- XML files

class AttachXmlFile : public ::testing::Test {
 protected:
  void SetUp() override { test::put_file(m_file, sample_guest("g1")); }
  std::vector<std::string> args(const std::string& command, std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {command, "g1"});
    rest.insert(rest.end(), {"--xml", m_file.string()});
    return on_workstation(rest);
  }
  TempDir m_dir;
  fs::path m_file = m_dir.path() / "g1.xml";
};

TEST_F(AttachXmlFile, AddsIdempotentlyKeepsOneBackupAndDetaches) {
  const std::string original = test::file_text(m_file);
  auto r = run_pcipass(args("attach", {"0000:02:00.0", "06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "g1: 0000:02:00.0: added\ng1: 0000:06:00.0: added\nwrote " + m_file.string() +
                       " (previous content in " + m_file.string() + ".pcipass-backup)\n");
  std::string xml = test::file_text(m_file);
  EXPECT_TRUE(contains(xml, hostdev_of("02", "00", "0"))) << xml;
  EXPECT_TRUE(contains(xml, "<alias name='ua-pcipass-0000-06-00-0'/>")) << xml;
  EXPECT_TRUE(contains(xml, "<!-- A small q35 guest")) << "comments are kept: " << xml;
  EXPECT_EQ(test::file_text(m_dir.path() / "g1.xml.pcipass-backup"), original);
  expect_valid_domain_xml(xml);

  const FileState attached(m_file);
  r = run_pcipass(args("attach", {"02:00.0", "06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "g1: 0000:02:00.0: already present\ng1: 0000:06:00.0: already present\n");
  EXPECT_TRUE(FileState(m_file) == attached) << "a second run must not rewrite the file";

  r = run_pcipass(args("detach", {"02:00.0", "03:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "g1: 0000:02:00.0: removed\ng1: 0000:03:00.0: not present\nwrote " +
                       m_file.string() + " (previous content in " + m_file.string() +
                       ".pcipass-backup)\n");
  xml = test::file_text(m_file);
  EXPECT_FALSE(contains(xml, hostdev_of("02", "00", "0"))) << xml;
  EXPECT_TRUE(contains(xml, hostdev_of("06", "00", "0"))) << xml;
  EXPECT_EQ(test::file_text(m_dir.path() / "g1.xml.pcipass-backup"), attached.bytes);
  expect_valid_domain_xml(xml);

  r = run_pcipass(args("detach", {"06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::file_text(m_file), original)
      << "attach then detach gives the file back byte for byte";
}

TEST_F(AttachXmlFile, AHandWrittenFileKeepsEveryOtherByte) {
  // CRLF, a DTD entity and its reference, escaped quotes, a character
  // reference, an element written open and closed, double-quoted qemu:args.
  const std::string original =
      "<!DOCTYPE domain [<!ENTITY e \"text\">]>\r\n"
      "<domain type=\"qemu\" xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\">\r\n"
      "  <name>g1</name>\r\n"
      "  <description>&e; &quot;q&quot; &#65;</description>\r\n"
      "  <memory unit=\"MiB\">128</memory>\r\n"
      "  <os><type arch=\"x86_64\" machine=\"q35\">hvm</type></os>\r\n"
      "  <devices>\r\n"
      "    <controller type=\"pci\" model=\"pcie-root\"></controller>\r\n"
      "  </devices>\r\n"
      "  <qemu:commandline>\r\n"
      "    <qemu:arg value=\"-global\"/>\r\n"
      "  </qemu:commandline>\r\n"
      "</domain>\r\n";
  test::put_file(m_file, original);
  auto r = run_pcipass(args("attach", {"02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string attached = test::file_text(m_file);
  const std::size_t start = attached.find("\r\n    <hostdev ");
  const std::size_t end = attached.find("</hostdev>");
  ASSERT_NE(start, std::string::npos) << attached;
  ASSERT_NE(end, std::string::npos) << attached;
  attached.erase(start, end + std::string("</hostdev>").size() - start);
  EXPECT_EQ(attached, original) << "only the hostdev was added";
  r = run_pcipass(args("detach", {"02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::file_text(m_file), original) << "attach then detach: the same bytes";
}

TEST_F(AttachXmlFile, JsonIsOneDocumentWithEachDevicesOutcome) {
  auto a = args("attach", {"2d:00.1", "02:00.0", "--whole-groups", "--force", "--dry-run"});
  a.insert(a.begin(), "--json");
  const auto r = run_pcipass(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);  // nothing but the document on stdout
  EXPECT_EQ(doc["command"], "attach");
  EXPECT_EQ(doc["target"], "file");
  EXPECT_EQ(doc["dry_run"], true);
  ASSERT_EQ(doc["devices"].size(), 3u);
  EXPECT_EQ(doc["devices"][0]["address"], "0000:02:00.0");
  EXPECT_EQ(doc["devices"][0]["config"], "added");
  EXPECT_TRUE(doc["devices"][0]["live"].is_null());
  EXPECT_EQ(doc["devices"][1]["address"], "0000:2d:00.0");
  EXPECT_EQ(doc["devices"][1]["completes_group"], 15);
  // Group completion, and the GPU card that has no reset.
  ASSERT_EQ(doc["notes"].size(), 3u);
  EXPECT_TRUE(contains(doc["notes"][2], "0000:2d:00.0, 0000:2d:00.1 have no reset"));
  ASSERT_EQ(doc["diffs"].size(), 1u);
  EXPECT_TRUE(contains(doc["diffs"][0]["diff"], "ua-pcipass-0000-2d-00-1"));
}

TEST_F(AttachXmlFile, HostdevsTheUserWroteAreLeftAlone) {
  std::string xml = sample_guest("g1");
  const std::string user_hostdev =
      "    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n        " +
      hostdev_of("02", "00", "0") + "\n      </source>\n    </hostdev>\n";
  xml.insert(xml.find("  </devices>"), user_hostdev);
  test::put_file(m_file, xml);
  const FileState before(m_file);

  auto r = run_pcipass(args("attach", {"02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "g1: 0000:02:00.0: already present\n");
  r = run_pcipass(args("detach", {"02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "g1: 0000:02:00.0: left alone: written by the user, not by pcipass\n");
  EXPECT_TRUE(FileState(m_file) == before);
  EXPECT_FALSE(fs::exists(m_dir.path() / "g1.xml.pcipass-backup"));
}

TEST_F(AttachXmlFile, DryRunPrintsTheDiffAndChangesNothing) {
  const FileState before(m_file);
  const auto r = run_pcipass(args("attach", {"06:00.0", "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string label = m_file.string();
  EXPECT_EQ(r.out, "--- a/" + label + "\n+++ b/" + label +
                       "\n"
                       "@@ -11,5 +11,12 @@\n"
                       "   <devices>\n"
                       "     <controller type='pci' model='pcie-root'/>\n"
                       "     <serial type='pty'/>\n"
                       "+    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                       "+      <driver name='vfio'/>\n"
                       "+      <source>\n"
                       "+        <address domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n"
                       "+      </source>\n"
                       "+      <alias name='ua-pcipass-0000-06-00-0'/>\n"
                       "+    </hostdev>\n"
                       "   </devices>\n"
                       " </domain>\n"
                       "g1: 0000:06:00.0: would be added\n");
  EXPECT_TRUE(FileState(m_file) == before);
  EXPECT_FALSE(fs::exists(m_dir.path() / "g1.xml.pcipass-backup"));
}

TEST_F(AttachXmlFile, WholeGroupsAddsTheRestOfTheGroupAndForceTakesHostDevices) {
  const FileState before(m_file);
  // 2d:00.1 shares group 15 with the boot GPU 2d:00.0.
  auto r = run_pcipass(args("attach", {"2d:00.1"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to assign the devices:\n  IOMMU group 15 of 0000:2d:00.1 also holds "
            "0000:2d:00.0 (Advanced Micro Devices, Inc. [AMD/ATI] Navi 23 [Radeon RX "
            "6600/6600 XT/6600M] with 8.0 GiB); select every endpoint of the group, or use "
            "--whole-groups\n");
  r = run_pcipass(args("attach", {"2d:00.1", "--whole-groups"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err,
            "pcipass: error: refusing to assign the devices:\n  0000:2d:00.0: used by the host: boot VGA "
            "device; framebuffer console (fb0) (--force assigns it anyway)\n");
  EXPECT_TRUE(FileState(m_file) == before);

  r = run_pcipass(args("attach", {"2d:00.1", "--whole-groups", "--force"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out,
                       "g1: 0000:2d:00.0: added (completes IOMMU group 15)\n"
                       "g1: 0000:2d:00.1: added\n"))
      << r.out;
  const std::string xml = test::file_text(m_file);
  EXPECT_TRUE(contains(xml, hostdev_of("2d", "00", "0")));
  EXPECT_TRUE(contains(xml, hostdev_of("2d", "00", "1")));
}

TEST_F(AttachXmlFile, WarnsAboutMachinesOtherThanQ35) {
  std::string xml = sample_guest("g1");
  xml.replace(xml.find("machine='q35'"), 13, "machine='pc-i440fx-7.2'");
  test::put_file(m_file, xml);
  const auto r = run_pcipass(args("attach", {"06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: warning: guest 'g1' is not a q35 machine (machine type 'pc-i440fx-7.2'): "
            "devices passed through to it sit on a conventional PCI bus and lose their PCI "
            "Express capabilities; define it with machine='q35'\n");
}

TEST_F(AttachXmlFile, WarnsWhenASessionGuestNeedsMoreLockedMemoryThanTheUserHas) {
  TempDir proc;
  fs::copy(sim_host("workstation") / "proc", proc.path(),
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  test::put_file(proc.path() / "self/limits",
       "Limit                     Soft Limit           Hard Limit           Units     \n"
       "Max locked memory         8388608              67108864             bytes     \n");
  const auto with_limit = [&](std::vector<std::string> rest) {
    rest.insert(rest.begin(), {"--proc-root", proc.path().string(), "-c", "qemu:///session"});
    return rest;
  };
  auto r = run_pcipass(with_limit(args("attach", {"06:00.0"})));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: warning: guest 'g1' needs 1.1 GiB of locked memory (its memory plus "
            "1 GiB) but this user may lock only 64 MiB (hard limit in " +
                (proc.path() / "self/limits").string() +
                "), and qemu:///session cannot raise it: the guest will not start with a "
                "passed-through device; raise the limit with pcipass permissions (which reads "
                "the guests' definitions: --guest NAME, --xml-dir DIR; or --guest-memory 128M "
                "for this guest alone) and log in again\n");

  // qemu:///system raises the limit itself.
  r = run_pcipass(on_workstation({"--proc-root", proc.path().string(), "-c", "qemu:///system",
                                  "attach", "g1", "06:00.0", "--xml", m_file.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// Every error: one line (the planner's list aside), the documented exit
// code, nothing on stdout, and the file exactly as it was.
class AttachXmlErrors : public AttachXmlFile {
 protected:
  void expect_refused(const std::vector<std::string>& arguments, int code,
                      const std::string& message) {
    const FileState before(m_file);
    const auto r = run_pcipass(arguments);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.err, "pcipass: error: " + message + "\n");
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(FileState(m_file) == before) << "the file changed";
    EXPECT_FALSE(fs::exists(m_dir.path() / "g1.xml.pcipass-backup"));
  }
};

TEST_F(AttachXmlErrors, MalformedXmlIsBadInput) {
  test::put_file(m_file, "<domain><name>g1</name><devices>\n");
  expect_refused(
      args("attach", {"06:00.0"}), 3,
      m_file.string() + ": domain XML is not well-formed: Start-end tags mismatch at offset 32");
}

TEST_F(AttachXmlErrors, XmlWithoutDevicesIsBadInput) {
  test::put_file(m_file, "<domain type='qemu'><name>g1</name></domain>\n");
  expect_refused(
      args("attach", {"06:00.0"}), 3,
      m_file.string() + ": domain 'g1' has no <devices> element to put a <hostdev> into");
  expect_refused(
      args("detach", {"06:00.0"}), 3,
      m_file.string() + ": domain 'g1' has no <devices> element to put a <hostdev> into");
}

TEST_F(AttachXmlErrors, MissingFileIsBadInput) {
  const std::string missing = (m_dir.path() / "missing.xml").string();
  const auto r = run_pcipass(on_workstation({"attach", "g1", "06:00.0", "--xml", missing}));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pcipass: error: reading " + missing + ": No such file or directory\n");
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(AttachXmlErrors, ReadOnlyFileIsAHostError) {
  ::chmod(m_file.c_str(), 0444);
  expect_refused(args("attach", {"06:00.0"}), 4,
                 "writing " + m_file.string() +
                     ": the file is read-only (mode 0444); make it writable (chmod u+w) for "
                     "pcipass to edit it");
}

TEST_F(AttachXmlErrors, FileOfAnotherDomainIsAUsageError) {
  expect_refused(on_workstation({"attach", "g2", "06:00.0", "--xml", m_file.string()}), 2,
                 m_file.string() + ": the file defines domain 'g1', not 'g2'");
}

TEST_F(AttachXmlErrors, UnknownDeviceIsRefused) {
  expect_refused(args("attach", {"06:00.0", "0000:7f:1f.7"}), 5,
                 "refusing to assign the devices:\n  0000:7f:1f.7: no such PCI device on this host");
}

TEST_F(AttachXmlErrors, MalformedAddressIsAUsageError) {
  const FileState before(m_file);
  const auto r = run_pcipass(args("attach", {"2d:00"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
  EXPECT_TRUE(FileState(m_file) == before);
}

TEST_F(AttachXmlErrors, LiveCannotGoWithXml) {
  const FileState before(m_file);
  const auto r = run_pcipass(args("attach", {"06:00.0", "--live"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--live")) << r.err;
  EXPECT_TRUE(FileState(m_file) == before);
}

// ------------------------------------------------ libvirt's test driver

// A test-driver host file: a running persistent guest whose definition has
// one hostdev by pcipass and one by the user, and a stopped guest.
class AttachTestDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string pcipass_hostdev =
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>" +
        hostdev_of("02", "00", "0") + "</source><alias name='ua-pcipass-0000-02-00-0'/></hostdev>";
    const std::string user_hostdev = "<hostdev mode='subsystem' type='pci' managed='yes'><source>" +
                                     hostdev_of("06", "00", "0") + "</source></hostdev>";
    test::put_file(m_file,
         "<node>\n"
         "  <domain type='test'><name>running</name><memory>131072</memory>"
         "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>" +
             pcipass_hostdev + user_hostdev +
             "</devices></domain>\n"
             "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
             "<name>stopped</name><memory>131072</memory>"
             "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/>"
             "<test:runstate>5</test:runstate></domain>\n"
             "</node>\n");
  }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"-c", "test://" + m_file.string()});
    return on_workstation(rest);
  }
  TempDir m_dir;
  fs::path m_file = m_dir.path() / "host.xml";
};

TEST_F(AttachTestDriver, FallsBackToRedefiningTheDomain) {
  auto r = run_pcipass(args({"attach", "running", "2d:00.1", "2d:00.0", "--force"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "note: 0000:2d:00.0 is used by the host (boot VGA device; framebuffer console "
            "(fb0)); assigning it anyway (--force)\n"
            "note: 0000:2d:00.0, 0000:2d:00.1 have no reset the kernel can use: state stays from one "
            "guest to the next and a guest restart may hang the device; give a guest every "
            "function of the card (so a bus reset may work) or reboot the host between guests\n"
            "running: 0000:2d:00.0: added\nrunning: 0000:2d:00.1: added\nnote: test://" +
                m_file.string() +
                " cannot attach or detach devices of a defined domain; pcipass redefined "
                "'running' with the edited XML\n");

  r = run_pcipass(args({"attach", "running", "02:00.0", "06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "running: 0000:02:00.0: already present\nrunning: 0000:06:00.0: already present\n");

  r = run_pcipass(args({"detach", "running", "02:00.0", "06:00.0", "2d:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "running: 0000:02:00.0: removed\n"
            "running: 0000:06:00.0: left alone: written by the user, not by pcipass\n"
            "running: 0000:2d:00.0: not present\n"
            "note: test://" +
                m_file.string() +
                " cannot attach or detach devices of a defined domain; pcipass redefined "
                "'running' with the edited XML\n");
}

// libvirt lets two defined guests name one device and complains only when
// the second starts: pcipass refuses to give a device another guest holds.
TEST_F(AttachTestDriver, ADeviceAnotherGuestHoldsIsRefused) {
  const std::string refusal =
      "pcipass: error: refusing to attach (domains of test://" + m_file.string() + "):\n"
      "  0000:02:00.0 is held by guest 'running' (running), not 'stopped'; it would be taken "
      "from a running guest\n"
      "  0000:06:00.0 is held by guest 'running' (running), not 'stopped'; it would be taken "
      "from a running guest\n"
      "  take each device out of the guest holding it first, or pass --force\n";
  for (const bool dry_run : {false, true}) {
    std::vector<std::string> rest{"attach", "stopped", "02:00.0", "06:00.0"};
    if (dry_run) rest.push_back("--dry-run");
    const auto r = run_pcipass(args(rest));
    EXPECT_EQ(r.exit_code, 5);
    EXPECT_EQ(r.err, refusal);
    EXPECT_EQ(r.out, "");
  }
  // A device the guest itself holds is no conflict.
  EXPECT_EQ(run_pcipass(args({"attach", "running", "02:00.0"})).exit_code, 0);

  const auto forced = run_pcipass(args({"attach", "stopped", "02:00.0", "--force"}));
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(forced.err,
            "pcipass: warning: 0000:02:00.0 is held by guest 'running' (running), not 'stopped'; "
            "it would be taken from a running guest (--force: going ahead)\n");
  EXPECT_TRUE(contains(forced.out, "stopped: 0000:02:00.0: added\n")) << forced.out;
}

TEST_F(AttachTestDriver, DryRunShowsTheDefinitionsDiff) {
  const auto r = run_pcipass(args({"detach", "running", "02:00.0", "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      r.out.starts_with("--- a/running (persistent definition)\n"
                        "+++ b/running (persistent definition)\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "\n-      <alias name='ua-pcipass-0000-02-00-0'/>\n")) << r.out;
  EXPECT_TRUE(r.out.ends_with("running: 0000:02:00.0: would be removed\n")) << r.out;
}

TEST_F(AttachTestDriver, UnknownDomainIsAUsageError) {
  const auto r = run_pcipass(args({"attach", "nosuch", "06:00.0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "pcipass: error: domain 'nosuch' at 'test://" + m_file.string() +
                       "': Domain not found\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(AttachTestDriver, LiveChangesOfAStoppedGuestAreRefused) {
  const auto r = run_pcipass(args({"attach", "stopped", "06:00.0", "--live"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err,
            "pcipass: error: domain 'stopped': the domain is not running; without --live "
            "pcipass changes its persistent definition\n");
}

TEST_F(AttachTestDriver, ALibvirtErrorIsAHostErrorWithLibvirtsMessage) {
  // The test driver has no live attach.
  const auto r =
      run_pcipass(args({"attach", "running", "2d:00.0", "2d:00.1", "--force", "--live"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err,
            "pcipass: error: attaching 0000:2d:00.0 to domain 'running' (live): this "
            "function is not supported by the connection driver: "
            "virDomainAttachDeviceFlags\n");
  EXPECT_EQ(r.out,
            "note: 0000:2d:00.0 is used by the host (boot VGA device; framebuffer console "
            "(fb0)); assigning it anyway (--force)\n"
            "note: 0000:2d:00.0, 0000:2d:00.1 have no reset the kernel can use: state stays from one "
            "guest to the next and a guest restart may hang the device; give a guest every "
            "function of the card (so a bus reset may work) or reboot the host between guests\n");
}

TEST_F(AttachTestDriver, UnreachableLibvirtIsAHostError) {
  const auto r = run_pcipass(on_workstation(
      {"-c", "qemu:///system?socket=/nonexistent/sock", "attach", "running", "06:00.0"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(
      r.err.starts_with("pcipass: error: connecting to libvirt at "
                        "'qemu:///system?socket=/nonexistent/sock': "))
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

// ------------------------------------------------------- the real daemon

// A throwaway domain on qemu:///system (the sample guest, named
// pcipass-test-PID-N), destroyed and undefined when the test ends,
// whether it passed or not.
class ThrowawayDomain {
 public:
  ThrowawayDomain(virConnectPtr connection, std::string name)
      : m_connection(connection), m_name(std::move(name)) {}
  ThrowawayDomain(const ThrowawayDomain&) = delete;
  ThrowawayDomain& operator=(const ThrowawayDomain&) = delete;
  ~ThrowawayDomain() {
    if (virDomainPtr d = virDomainLookupByName(m_connection, m_name.c_str())) {
      if (virDomainIsActive(d) == 1) virDomainDestroy(d);
      virDomainUndefine(d);
      virDomainFree(d);
    }
  }
  [[nodiscard]] const std::string& name() const { return m_name; }

 private:
  virConnectPtr m_connection;
  std::string m_name;
};

class AttachRealDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    auto connection = host::LibvirtConnection::open("qemu:///system",
                                                    host::LibvirtConnection::Access::read_write);
    if (!connection) {
      GTEST_SKIP() << "no libvirtd on qemu:///system (scripts/start-libvirtd.sh starts one): "
                   << connection.error().message;
    }
    m_connection.emplace(std::move(*connection));
    // The addresses these tests put into XML must not be this machine's:
    // nothing real may ever be named, even in a definition.
    for (const char* address : {"0000:02:00.0", "0000:06:00.0"}) {
      if (fs::exists(fs::path("/sys/bus/pci/devices") / address)) {
        GTEST_SKIP() << address << " exists on this machine; these tests only name absent devices";
      }
    }
    // Guest names are at most 63 characters for the planner: a counter, not the test's name.
    static int count = 0;
    const std::string name =
        "pcipass-test-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
    m_domain.emplace(m_connection->raw(), name);
    virDomainPtr d = virDomainDefineXML(m_connection->raw(), sample_guest(name).c_str());
    if (d == nullptr) {
      GTEST_SKIP() << "cannot define a qemu domain here: "
                   << host::last_libvirt_error(m_connection->raw()).message;
    }
    virDomainFree(d);
  }

  [[nodiscard]] const std::string& name() const { return m_domain->name(); }
  std::vector<std::string> args(std::vector<std::string> rest) const {
    rest.insert(rest.begin(), {"-c", "qemu:///system"});
    return on_workstation(rest);
  }
  std::string dumpxml(bool inactive) const {
    std::vector<std::string> argv = {"virsh", "-c", "qemu:///system", "dumpxml", name()};
    if (inactive) argv.push_back("--inactive");
    const auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  // Starts the guest; only ever called while its definition has no <hostdev>.
  bool start() {
    if (contains(dumpxml(true), "<hostdev")) {
      ADD_FAILURE() << "refusing to start a guest with a <hostdev>";
      return false;
    }
    const auto r = run_command({"virsh", "-c", "qemu:///system", "start", name()});
    if (r.exit_code != 0) m_start_error = r.err;
    return r.exit_code == 0;
  }

  std::optional<host::LibvirtConnection> m_connection;
  std::optional<ThrowawayDomain> m_domain;  // destroyed before the connection closes
  std::string m_start_error;
};

TEST_F(AttachRealDaemon, AttachAndDetachThePersistentDefinition) {
  auto r = run_pcipass(args({"attach", name(), "02:00.0", "06:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, name() + ": 0000:02:00.0: added\n" + name() + ": 0000:06:00.0: added\n");
  std::string xml = dumpxml(true);
  EXPECT_TRUE(contains(xml, hostdev_of("02", "00", "0"))) << xml;
  EXPECT_TRUE(contains(xml, "<alias name='ua-pcipass-0000-02-00-0'/>")) << xml;
  EXPECT_TRUE(contains(xml, "<alias name='ua-pcipass-0000-06-00-0'/>")) << xml;
  expect_valid_domain_xml(xml);

  r = run_pcipass(args({"attach", name(), "02:00.0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, name() + ": 0000:02:00.0: already present\n");
  EXPECT_EQ(dumpxml(true), xml);

  r = run_pcipass(args({"detach", name(), "02:00.0", "2d:00.1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, name() + ": 0000:02:00.0: removed\n" + name() + ": 0000:2d:00.1: not present\n");
  xml = dumpxml(true);
  EXPECT_FALSE(contains(xml, hostdev_of("02", "00", "0"))) << xml;
  EXPECT_TRUE(contains(xml, "<alias name='ua-pcipass-0000-06-00-0'/>")) << xml;
  expect_valid_domain_xml(xml);
}

TEST_F(AttachRealDaemon, DryRunChangesNothing) {
  const std::string before = dumpxml(true);
  const auto r = run_pcipass(args({"attach", name(), "06:00.0", "--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("--- a/" + name() + " (persistent definition)\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n+        " + hostdev_of("06", "00", "0") + "\n")) << r.out;
  EXPECT_TRUE(r.out.ends_with(name() + ": 0000:06:00.0: would be added\n")) << r.out;
  EXPECT_EQ(dumpxml(true), before);
}

TEST_F(AttachRealDaemon, UnknownDomainIsAUsageError) {
  const std::string missing = name() + "-missing";
  const auto r = run_pcipass(args({"detach", missing, "06:00.0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "pcipass: error: domain '" + missing +
                       "' at 'qemu:///system': Domain not found: no domain with matching name '" +
                       missing + "'\n");
}

TEST_F(AttachRealDaemon, LiveAttachToAStoppedGuestIsRefused) {
  const auto r = run_pcipass(args({"attach", name(), "06:00.0", "--live"}));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err, "pcipass: error: domain '" + name() +
                       "': the domain is not running; without --live pcipass changes its "
                       "persistent definition\n");
  EXPECT_FALSE(contains(dumpxml(true), "<hostdev"));
}

TEST_F(AttachRealDaemon, LiveAttachOnAHostWithoutIommuFailsClearlyAndChangesNothing) {
  if (fs::exists("/sys/kernel/iommu_groups") && !fs::is_empty("/sys/kernel/iommu_groups")) {
    GTEST_SKIP() << "this host has an IOMMU: this test is for hosts without one";
  }
  if (!start()) GTEST_SKIP() << "cannot start a TCG guest here: " << m_start_error;
  const std::string live_before = dumpxml(false);
  // 0000:06:00.0 does not exist on this machine (checked in SetUp): even if
  // libvirt got further than it does, it would find nothing to detach.
  const auto r = run_pcipass(args({"attach", name(), "06:00.0", "--live"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "pcipass: error: attaching 0000:06:00.0 to domain '" + name() +
                       "' (live): unsupported configuration: host doesn't support VFIO PCI "
                       "passthrough\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(contains(dumpxml(false), "<hostdev"));
  EXPECT_FALSE(contains(dumpxml(true), "<hostdev"));
}

}  // namespace
}  // namespace pcipass::test
