#include <pcipass/core/text.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

TEST(SanitizeUntrusted, TrimsAndTurnsControlCharactersIntoSpaces) {
  EXPECT_EQ(sanitize_untrusted("  Samsung SSD\n"), "Samsung SSD");
  EXPECT_EQ(sanitize_untrusted("a\nsource \"x\"\tb"), "a source \"x\" b");
  EXPECT_EQ(sanitize_untrusted("a\x1b[31mred"), "a [31mred");
}

TEST(SanitizeUntrusted, ReplacesInvalidUtf8) {
  EXPECT_EQ(sanitize_untrusted("ok\xff\xfe!"), "ok\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_EQ(sanitize_untrusted("caf\xc3\xa9"), "caf\xc3\xa9");              // valid é kept
  EXPECT_EQ(sanitize_untrusted("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");    // overlong '/'
  EXPECT_EQ(sanitize_untrusted("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(sanitize_untrusted("a\xc2\x85" "b"), "a\xef\xbf\xbd\xef\xbf\xbd" "b");  // C1 NEL
  EXPECT_EQ(sanitize_untrusted("a\xe2\x80\xa8" "b"), "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b");
}

TEST(SanitizeUntrusted, CapsLengthWithoutSplittingCharacters) {
  std::string long_text(300, 'x');
  std::string out = sanitize_untrusted(long_text);
  EXPECT_EQ(out, std::string(k_max_untrusted_length - 3, 'x') + "...");
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
  out = sanitize_untrusted(accents);
  EXPECT_LE(out.size(), k_max_untrusted_length);
  EXPECT_EQ(out.substr(out.size() - 5), "\xc3\xa9...");
}

// A cut value written to a file and read back must compare equal to the
// device's value cleaned again: the Kconfig number records rely on it.
TEST(SanitizeUntrusted, CleaningCleanedTextChangesNothing) {
  for (const std::size_t n : {k_max_untrusted_length - 1, k_max_untrusted_length,
                              k_max_untrusted_length + 1, std::size_t{300}, std::size_t{1000}}) {
    const std::string once = sanitize_untrusted(std::string(n, 'y'));
    EXPECT_EQ(sanitize_untrusted(once), once) << n;
  }
  // The cut backs off from the middle of an "é": the value is shorter than
  // the cap before its "...", and cleaning it again must not cut elsewhere.
  std::string accents = "a";
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
  const std::string once = sanitize_untrusted(accents);
  EXPECT_EQ(sanitize_untrusted(once), once);
}

TEST(ParseHex, AcceptsSysfsAndLspciForms) {
  EXPECT_EQ(parse_hex("0x8086"), 0x8086u);
  EXPECT_EQ(parse_hex("8086"), 0x8086u);
  EXPECT_EQ(parse_hex("0X1F"), 0x1fu);
  EXPECT_FALSE(parse_hex(""));
  EXPECT_FALSE(parse_hex("0x"));
  EXPECT_FALSE(parse_hex("80 86"));
  EXPECT_FALSE(parse_hex("0x1ffffffffffffffff"));
}

TEST(ParseDecimal, AcceptsNegativeNumaNode) {
  EXPECT_EQ(parse_decimal("-1"), -1);
  EXPECT_EQ(parse_decimal("12"), 12);
  EXPECT_FALSE(parse_decimal("1x"));
  EXPECT_FALSE(parse_decimal(""));
}

TEST(SanitizeUntrusted, PlainTextAtTheEdgesOfTheQuickPathIsCleanedAsBefore) {
  EXPECT_EQ(sanitize_untrusted("Intel Corporation"), "Intel Corporation");
  EXPECT_EQ(sanitize_untrusted(" lead"), "lead");
  EXPECT_EQ(sanitize_untrusted("trail "), "trail");
  EXPECT_EQ(sanitize_untrusted("tab\t"), "tab");
  EXPECT_EQ(sanitize_untrusted("del\x7f!"), "del !");
  EXPECT_EQ(sanitize_untrusted(std::string(k_max_untrusted_length, 'a')),
            std::string(k_max_untrusted_length, 'a'));
  EXPECT_EQ(sanitize_untrusted(std::string(k_max_untrusted_length + 1, 'a')),
            std::string(k_max_untrusted_length - 3, 'a') + "...");
}

TEST(Hex, PadsToTheDigitsAskedAndWidensForLargerValues) {
  EXPECT_EQ(hex(0, 4), "0x0000");
  EXPECT_EQ(hex(0x8086, 4), "0x8086");
  EXPECT_EQ(hex(0x1, 1), "0x1");
  EXPECT_EQ(hex(0x12345, 2), "0x12345");
  EXPECT_EQ(hex(0xffffffffffffffffULL, 4), "0xffffffffffffffff");
  char buf[16];
  EXPECT_EQ(std::string(buf, put_hex(buf, 0xab, 6)), "0000ab");
}

TEST(Join, PutsTheSeparatorOnlyBetweenParts) {
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a"}, ", "), "a");
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join({"", "b"}, "\n  "), "\n  b");  // empty parts keep their place
}

}  // namespace
}  // namespace pcipass::core
