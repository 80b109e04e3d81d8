#include <pcipass/core/text_diff.hpp>

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

namespace pcipass::core {
namespace {

TEST(UnifiedDiff, EqualTextsGiveNothing) { EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "f"), ""); }

TEST(UnifiedDiff, InsertionWithContext) {
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n";
  const std::string after = "1\n2\n3\n4\n4a\n4b\n5\n6\n7\n8\n";
  EXPECT_EQ(unified_diff(before, after, "g.xml"),
            "--- a/g.xml\n+++ b/g.xml\n@@ -2,6 +2,8 @@\n 2\n 3\n 4\n+4a\n+4b\n 5\n 6\n 7\n");
}

TEST(UnifiedDiff, SeparateHunksAndMissingFinalNewline) {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) before += std::to_string(i) + "\n";
  after = before;
  after.replace(after.find("2\n"), 2, "two\n");
  after += "21";
  EXPECT_EQ(unified_diff(before, after, "f"),
            "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
            "@@ -18,3 +18,4 @@\n 18\n 19\n 20\n+21\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, AgreesWithGnuDiffOnAGuestEdit) {
  test::TempDir dir;
  const std::string before = "<domain>\n  <devices>\n    <disk/>\n    <console/>\n  </devices>\n</domain>\n";
  const std::string after =
      "<domain>\n  <devices>\n    <disk/>\n    <hostdev>\n      <x/>\n    </hostdev>\n    <console/>\n  "
      "</devices>\n</domain>\n";
  std::ofstream(dir.path() / "a") << before;
  std::ofstream(dir.path() / "b") << after;
  const auto gnu = test::run_command({"diff", "-u", "--label", "a/g", "--label", "b/g",
                                      (dir.path() / "a").string(), (dir.path() / "b").string()});
  EXPECT_EQ(unified_diff(before, after, "g"), gnu.out);
}

// Applies `diff` to `before` with GNU patch and returns the result.
std::string patched(const std::string& before, const std::string& diff) {
  test::TempDir dir;
  test::put_file(dir.path() / "f", before);
  test::put_file(dir.path() / "f.diff", diff);
  const auto r = test::run_command({"patch", "--quiet", "--force", (dir.path() / "f").string(),
                                    (dir.path() / "f.diff").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return test::file_text(dir.path() / "f");
}

TEST(UnifiedDiff, AHugeFileWhereEveryLineChangedDiffsInLinearSpace) {
  // A 30k-line (~1 MiB) domain whose every quoted attribute changed quotes:
  // the quadratic table needed 3.6 GB and ended in std::bad_alloc.
  std::string before, after;
  for (int i = 0; i < 30000; ++i) {
    before += "    <qemu:arg value=\"-device-" + std::to_string(i) + "\"/>\n";
    after += "    <qemu:arg value='-device-" + std::to_string(i) + "'/>\n";
    if (i % 1000 == 0) {  // lines both sides share, in order: anchors
      before += "  <!-- block " + std::to_string(i) + " -->\n";
      after += "  <!-- block " + std::to_string(i) + " -->\n";
    }
  }
  const std::string diff = unified_diff(before, after, "g");
  ASSERT_FALSE(diff.empty());
  EXPECT_EQ(patched(before, diff), after);
#if !defined(__SANITIZE_ADDRESS__)
  // In a child limited to 256 MiB of data, as a small VM would be (the
  // sanitizers' shadow memory does not fit such a limit).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit limit{256u << 20, 256u << 20};
    ::setrlimit(RLIMIT_DATA, &limit);
    try {
      ::_exit(unified_diff(before, after, "g") == diff ? 0 : 1);
    } catch (...) {
      ::_exit(2);  // std::bad_alloc
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
#endif
  // No shared line at all: replaced whole, still a correct diff.
  std::string other;
  for (int i = 0; i < 30000; ++i) other += "line " + std::to_string(i) + " changed\n";
  EXPECT_EQ(patched(before, unified_diff(before, other, "g")), other);
}

TEST(UnifiedDiff, LargeRegionsSplitAtSharedLinesStayMinimalThere) {
  // 2000 lines, a line changed every 100: split at the unique shared lines,
  // the diff holds exactly the 20 changed lines on each side.
  std::string before, after;
  for (int i = 0; i < 2000; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    before += line;
    after += i % 100 == 50 ? "changed " + line : line;
  }
  // Equal ends are trimmed first; make both ends differ so the middle is large.
  before = "first a\n" + before + "last a\n";
  after = "first b\n" + after + "last b\n";
  const std::string diff = unified_diff(before, after, "g");
  std::size_t removed = 0, added = 0;
  for (std::size_t at = 0; (at = diff.find('\n', at)) != std::string::npos; ++at) {
    if (diff.compare(at + 1, 1, "-") == 0 && diff.compare(at + 1, 3, "---") != 0) ++removed;
    if (diff.compare(at + 1, 1, "+") == 0 && diff.compare(at + 1, 3, "+++") != 0) ++added;
  }
  EXPECT_EQ(removed, 22u);
  EXPECT_EQ(added, 22u);
  EXPECT_EQ(patched(before, diff), after);
}

}  // namespace
}  // namespace pcipass::core
