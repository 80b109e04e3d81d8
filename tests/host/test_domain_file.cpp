#include "support/sim_host.hpp"

#include <pcipass/host/domain_file.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;

std::string hostdev_template() {
  return test::file_text(test::source_path("xml-templates/hostdev-pci.xml"));
}

const std::string k_guest =
    "<domain type='kvm'>\n  <name>g</name>\n  <devices>\n    <disk type='file'/>\n  </devices>\n</domain>\n";

core::Status add_2d(core::DomainXml& d) {
  auto r = d.add_hostdev(*core::PciAddress::parse("0000:2d:00.0"), hostdev_template());
  if (!r) return core::fail(r.error());
  return core::ok();
}

TEST(DomainFile, EditsAtomicallyKeepingModeAndOneBackup) {
  test::TempDir dir;
  const fs::path file = dir.path() / "g.xml";
  std::ofstream(file) << k_guest;
  ::chmod(file.c_str(), 0640);
  auto r = edit_domain_file(file, add_2d, DryRun::no);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->changed());
  EXPECT_EQ(test::file_text(file), r->after);
  EXPECT_NE(r->after.find("ua-pcipass-0000-2d-00-0"), std::string::npos);
  EXPECT_EQ(test::file_text(dir.path() / "g.xml.pcipass-backup"), k_guest);
  struct stat st {};
  ::stat(file.c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  // A second run changes nothing and keeps the backup of the first.
  r = edit_domain_file(file, add_2d, DryRun::no);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->changed());
  EXPECT_EQ(test::file_text(dir.path() / "g.xml.pcipass-backup"), k_guest);
}

TEST(DomainFile, DryRunWritesNothing) {
  test::TempDir dir;
  const fs::path file = dir.path() / "g.xml";
  std::ofstream(file) << k_guest;
  auto r = edit_domain_file(file, add_2d, DryRun::yes);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changed());
  EXPECT_EQ(test::file_text(file), k_guest);
  EXPECT_FALSE(fs::exists(dir.path() / "g.xml.pcipass-backup"));
}

TEST(DomainFile, BadFilesFailWithThePathAndStayUntouched) {
  test::TempDir dir;
  auto r = edit_domain_file(dir.path() / "missing.xml", add_2d, DryRun::no);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::bad_input);
  EXPECT_EQ(r.error().message, "reading " + (dir.path() / "missing.xml").string() + ": No such file or directory");

  const fs::path broken = dir.path() / "broken.xml";
  std::ofstream(broken) << "<domain><devices>";
  r = edit_domain_file(broken, add_2d, DryRun::no);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, broken.string() + ": domain XML is not well-formed: Start-end tags mismatch at offset 16");
  EXPECT_EQ(test::file_text(broken), "<domain><devices>");

  const fs::path no_devices = dir.path() / "nodev.xml";
  std::ofstream(no_devices) << "<domain><name>x</name></domain>";
  r = edit_domain_file(no_devices, add_2d, DryRun::no);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, no_devices.string() + ": domain 'x' has no <devices> element to put a <hostdev> into");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(DomainFile, ReadOnlyFolderFailsAndLeavesTheFile) {
  test::TempDir dir;
  const fs::path sub = dir.path() / "ro";
  fs::create_directories(sub);
  const fs::path file = sub / "g.xml";
  std::ofstream(file) << k_guest;
  // Root ignores modes; a read-only bind mount is what really stops it.
  if (::getuid() == 0) {
    const auto mount = test::run_command({"mount", "--bind", "-o", "ro", sub.string(), sub.string()});
    if (mount.exit_code != 0) GTEST_SKIP() << "cannot make a read-only mount here: " << mount.err;
  } else {
    ::chmod(sub.c_str(), 0555);
  }
  auto r = edit_domain_file(file, add_2d, DryRun::no);
  if (::getuid() == 0) test::run_command({"umount", sub.string()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::host_error);
  EXPECT_EQ(r.error().message, "writing " + file.string() + ": its folder " + sub.string() +
                                   " is not writable (" +
                                   (::getuid() == 0 ? "Read-only file system" : "Permission denied") +
                                   ")");
  EXPECT_EQ(test::file_text(file), k_guest);
}

TEST(DomainFile, ReadOnlyFileIsNotReplacedEvenByRoot) {
  test::TempDir dir;
  const fs::path file = dir.path() / "g.xml";
  std::ofstream(file) << k_guest;
  ::chmod(file.c_str(), 0444);
  auto r = edit_domain_file(file, add_2d, DryRun::no);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ExitCode::host_error);
  EXPECT_EQ(r.error().message, "writing " + file.string() +
                                   ": the file is read-only (mode 0444); make it writable (chmod "
                                   "u+w) for pcipass to edit it");
  EXPECT_EQ(test::file_text(file), k_guest);
  EXPECT_FALSE(fs::exists(dir.path() / "g.xml.pcipass-backup"));

  // Nothing to change: a read-only file is fine.
  const auto nothing = [](core::DomainXml&) { return core::ok(); };
  EXPECT_TRUE(edit_domain_file(file, nothing, DryRun::no));
  // A dry run finds it too: bringup checks its guests that way before it binds.
  auto dry = edit_domain_file(file, add_2d, DryRun::yes);
  ASSERT_FALSE(dry);
  EXPECT_EQ(dry.error().message, r.error().message);
}

}  // namespace
}  // namespace pcipass::host
