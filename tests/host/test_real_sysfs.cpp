// RealSysfs keeps the folder it listed last open and resolves names inside it
// from there: the answers and the error messages must be those of plain paths.

#include "support/sim_host.hpp"

#include <pcipass/host/sysfs.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace pcipass::host {
namespace {

class RealSysfsTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::filesystem::create_directories(m_dir.path() / "devices/a/sub");
    std::filesystem::create_directories(m_dir.path() / "devices/b");
    std::ofstream(m_dir.path() / "devices/a/vendor") << "0x8086\n";
    std::ofstream(m_dir.path() / "devices/a/sub/deep") << "deep\n";
    std::ofstream(m_dir.path() / "devices/b/vendor") << "0x1af4\n";
    std::filesystem::create_symlink("../b", m_dir.path() / "devices/a/peer");
  }
  test::TempDir m_dir;
};

TEST_F(RealSysfsTest, ReadsInsideAndOutsideTheListedFolderAlike) {
  RealSysfs sys(m_dir.path());
  auto entries = sys.list("devices/a");
  ASSERT_TRUE(entries) << entries.error().message;
  std::sort(entries->begin(), entries->end());
  EXPECT_EQ(*entries, (std::vector<std::string>{"peer", "sub", "vendor"}));
  EXPECT_EQ(sys.read("devices/a/vendor").value(), "0x8086\n");
  EXPECT_EQ(sys.read("devices/a/vendor", 4).value(), "0x80");
  EXPECT_EQ(sys.read("devices/a/sub/deep").value(), "deep\n");  // not directly inside
  EXPECT_EQ(sys.read("devices/b/vendor").value(), "0x1af4\n");  // another folder
  EXPECT_EQ(sys.read_link("devices/a/peer").value(), "../b");
  EXPECT_TRUE(sys.exists("devices/a/sub"));
  EXPECT_TRUE(sys.exists("devices/a/peer"));
  EXPECT_FALSE(sys.exists("devices/a/missing"));
}

TEST_F(RealSysfsTest, ErrorsInsideTheListedFolderNameTheFullPath) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.list("devices/a"));
  const std::string root = m_dir.path().string();
  auto missing = sys.read("devices/a/missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "reading " + root + "/devices/a/missing: No such file or directory");
  auto not_link = sys.read_link("devices/a/vendor");
  ASSERT_FALSE(not_link);
  EXPECT_EQ(not_link.error().message, "reading link " + root + "/devices/a/vendor: Invalid argument");
}

TEST_F(RealSysfsTest, AWriteDropsTheListedFolder) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.list("devices/a"));
  ASSERT_TRUE(sys.write("devices/a/vendor", "0x10de"));
  // The folder is replaced behind pcipass's back: paths see the new one.
  std::filesystem::rename(m_dir.path() / "devices/a", m_dir.path() / "devices/old");
  std::filesystem::create_directories(m_dir.path() / "devices/a");
  std::ofstream(m_dir.path() / "devices/a/vendor") << "new\n";
  EXPECT_EQ(sys.read("devices/a/vendor").value(), "new\n");
}

TEST_F(RealSysfsTest, ListingAMissingFolderFailsWithItsPath) {
  RealSysfs sys(m_dir.path());
  auto entries = sys.list("devices/none");
  ASSERT_FALSE(entries);
  EXPECT_EQ(entries.error().message,
            "listing " + m_dir.path().string() + "/devices/none: No such file or directory");
}

}  // namespace
}  // namespace pcipass::host
