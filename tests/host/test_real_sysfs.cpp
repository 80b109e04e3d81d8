// RealSysfs keeps the folder keep_folder() named open and resolves names
// inside it from there: the answers and the error messages must be those of
// plain paths.

#include "support/sim_host.hpp"

#include <pcipass/host/sysfs.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <thread>

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

TEST_F(RealSysfsTest, ReadsInsideAndOutsideTheKeptFolderAlike) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
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
  EXPECT_EQ(sys.list("devices/a/sub").value(), std::vector<std::string>{"deep"});
}

TEST_F(RealSysfsTest, ErrorsInsideTheKeptFolderNameTheFullPath) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
  const std::string root = m_dir.path().string();
  auto missing = sys.read("devices/a/missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "reading " + root + "/devices/a/missing: No such file or directory");
  auto not_link = sys.read_link("devices/a/vendor");
  ASSERT_FALSE(not_link);
  EXPECT_EQ(not_link.error().message, "reading link " + root + "/devices/a/vendor: Invalid argument");
}

TEST_F(RealSysfsTest, AWriteDropsTheKeptFolder) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
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

TEST_F(RealSysfsTest, NamesInTheKeptFolderResolveThroughItsDescriptor) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
  // Moved away after it was opened: names inside it still answer from it,
  // which a path walk would not.
  std::filesystem::rename(m_dir.path() / "devices/a", m_dir.path() / "devices/moved");
  EXPECT_EQ(sys.read("devices/a/vendor").value(), "0x8086\n");
  EXPECT_EQ(sys.read_link("devices/a/peer").value(), "../b");
  EXPECT_EQ(sys.list("devices/a/sub").value(), std::vector<std::string>{"deep"});
  EXPECT_FALSE(sys.exists("devices/a/sub/deep"));  // two levels down: a path walk

  EXPECT_FALSE(sys.keep_folder("devices/a"));  // gone now: nothing kept
  EXPECT_FALSE(sys.read("devices/a/vendor"));
}

TEST_F(RealSysfsTest, EachThreadKeepsItsOwnFolderAndAWriteDropsThemAll) {
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
  std::promise<void> kept, written;
  std::string seen_before, seen_after;
  std::thread other([&] {
    EXPECT_TRUE(sys.keep_folder("devices/b"));
    kept.set_value();
    written.get_future().wait();
    // After the write: b/vendor was rewritten through its path.
    auto b = sys.read("devices/b/vendor");
    seen_after = b ? *b : b.error().message;
  });
  kept.get_future().wait();
  // The other thread's keep_folder did not take this thread's folder.
  std::filesystem::rename(m_dir.path() / "devices/a", m_dir.path() / "devices/moved");
  auto a = sys.read("devices/a/vendor");
  seen_before = a ? *a : a.error().message;
  // Replace b behind the other thread's kept descriptor, then write: the
  // write drops every thread's kept folder, so it reads the new b.
  std::filesystem::rename(m_dir.path() / "devices/b", m_dir.path() / "devices/old-b");
  std::filesystem::create_directories(m_dir.path() / "devices/b");
  std::ofstream(m_dir.path() / "devices/b/vendor") << "empty";
  EXPECT_TRUE(sys.write("devices/b/vendor", "new b"));
  written.set_value();
  other.join();
  EXPECT_EQ(seen_before, "0x8086\n");
  EXPECT_EQ(seen_after, "new b");
}

TEST_F(RealSysfsTest, AnAbsentOptionalAttributeIsNoneAndOtherErrorsFail) {
  RealSysfs sys(m_dir.path());
  for (const bool kept : {false, true}) {
    if (kept) {
      ASSERT_TRUE(sys.keep_folder("devices/a"));
    }
    auto vendor = sys.read_if_present("devices/a/vendor");
    ASSERT_TRUE(vendor && *vendor);
    EXPECT_EQ(**vendor, "0x8086\n");
    auto missing = sys.read_if_present("devices/a/missing");
    ASSERT_TRUE(missing) << missing.error().message;
    EXPECT_FALSE(*missing);
    auto folder = sys.read_if_present("devices/a/sub");  // EISDIR: not absent
    ASSERT_FALSE(folder);
    EXPECT_EQ(folder.error().message,
              "reading " + m_dir.path().string() + "/devices/a/sub: Is a directory");

    auto peer = sys.read_link_if_present("devices/a/peer");
    ASSERT_TRUE(peer && *peer);
    EXPECT_EQ(**peer, "../b");
    auto no_link = sys.read_link_if_present("devices/a/none");
    ASSERT_TRUE(no_link);
    EXPECT_FALSE(*no_link);
    auto not_link = sys.read_link_if_present("devices/a/vendor");  // EINVAL
    ASSERT_FALSE(not_link);
    EXPECT_EQ(not_link.error().message,
              "reading link " + m_dir.path().string() + "/devices/a/vendor: Invalid argument");
  }
}

TEST_F(RealSysfsTest, AnOpenAttributeIsReadInPiecesThroughOneOpen) {
  std::string bytes(4096, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  std::ofstream(m_dir.path() / "devices/a/config", std::ios::binary) << bytes;
  RealSysfs sys(m_dir.path());
  ASSERT_TRUE(sys.keep_folder("devices/a"));
  auto config = sys.open_attribute("devices/a/config");
  ASSERT_TRUE(config) << config.error().message;
  // Removed once open: the pieces still come from the one descriptor.
  std::filesystem::remove(m_dir.path() / "devices/a/config");
  EXPECT_EQ((*config)->read_at(0, 64).value(), bytes.substr(0, 64));
  EXPECT_EQ((*config)->read_at(0x100, 12).value(), bytes.substr(0x100, 12));
  EXPECT_EQ((*config)->read_at(4090, 12).value(), bytes.substr(4090));  // short at the end
  EXPECT_EQ((*config)->read_at(5000, 4).value(), "");

  auto missing = sys.open_attribute("devices/a/config");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "reading " + m_dir.path().string() + "/devices/a/config: No such file or directory");
}

TEST_F(RealSysfsTest, AFileLongerThanAPageIsReadWholeOrUpToItsLimit) {
  const std::string text(10000, 'x');
  std::ofstream(m_dir.path() / "devices/a/long") << text;
  std::ofstream(m_dir.path() / "devices/a/short") << "1\n";
  RealSysfs sys(m_dir.path());
  EXPECT_EQ(sys.read("devices/a/long").value(), text);
  EXPECT_EQ(sys.read("devices/a/long", 4096).value(), text.substr(0, 4096));
  EXPECT_EQ(sys.read("devices/a/long", 100).value(), text.substr(0, 100));
  EXPECT_EQ(sys.read("devices/a/short", 4096).value(), "1\n");
}

}  // namespace
}  // namespace pcipass::host
