#include <pcipass/core/text_diff.hpp>

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pcipass::core
