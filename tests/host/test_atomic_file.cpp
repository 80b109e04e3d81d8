#include "support/sim_host.hpp"

#include <pcipass/host/atomic_file.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFile, CommitReplacesContentWithMode) {
  test::TempDir dir;
  const fs::path target = dir.path() / "Kconfig.generated";
  std::ofstream(target) << "old\n";
  auto file = AtomicFile::create(target, 0640);
  ASSERT_TRUE(file) << file.error().message;
  ASSERT_TRUE(file->write("new "));
  ASSERT_TRUE(file->write("content\n"));
  EXPECT_EQ(test::file_text(target), "old\n");  // nothing visible before commit
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(test::file_text(target), "new content\n");
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(entries(dir.path()), 1u);  // no temporary left behind
}

TEST(AtomicFile, WithoutCommitTheTargetIsUntouched) {
  test::TempDir dir;
  const fs::path target = dir.path() / "f";
  std::ofstream(target) << "keep\n";
  {
    auto file = AtomicFile::create(target);
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write("half"));
  }
  EXPECT_EQ(test::file_text(target), "keep\n");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, MissingFolderFailsWithPathAndReason) {
  auto file = AtomicFile::create("/nonexistent/dir/f");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, core::ExitCode::host_error);
  EXPECT_EQ(file.error().message, "writing /nonexistent/dir/f: No such file or directory");
}

TEST(AtomicFile, RefusesWorldWritableModes) {
  test::TempDir dir;
  auto file = AtomicFile::create(dir.path() / "f", 0666);
  ASSERT_FALSE(file);
  EXPECT_EQ(entries(dir.path()), 0u);
}

TEST(AtomicFile, FailedRenameLeavesTargetAndNoTemporary) {
  test::TempDir dir;
  const fs::path target = dir.path() / "sub";
  fs::create_directories(target / "x");  // a non-empty folder cannot be replaced by a file
  auto status = write_file_atomically(target, "data");
  ASSERT_FALSE(status);
  EXPECT_TRUE(status.error().message.starts_with("writing " + target.string() + ": ")) << status.error().message;
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(entries(dir.path()), 1u);
}

}  // namespace
}  // namespace pcipass::host
