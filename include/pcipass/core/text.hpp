#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// Longest device-supplied string pcipass keeps, in bytes; longer ones are cut
// to fit and end in "...".
inline constexpr std::size_t k_max_untrusted_length = 256;

// Makes a device- or database-supplied string safe to carry around: trims
// surrounding whitespace, turns control characters (newlines included) into
// spaces, replaces bytes that are not valid UTF-8 with U+FFFD and caps the
// length. Idempotent: cleaning its own output returns it unchanged. Output
// formats still escape their own syntax (quotes, `$`, `<`).
std::string sanitize_untrusted(std::string_view raw);

// `text` without leading and trailing whitespace.
std::string_view trim(std::string_view text);

// Parses an unsigned integer written in hex with or without `0x` (sysfs writes
// `0x8086`, lspci `8086`). Fails on empty text, other characters or overflow.
std::optional<std::uint64_t> parse_hex(std::string_view text);

// Parses a decimal integer, possibly negative (sysfs `numa_node` is `-1`).
std::optional<std::int64_t> parse_decimal(std::string_view text);

// `text` in single quotes for an error message: quotes, backslashes, control
// and non-ASCII bytes as \xNN, at most 64 bytes then "...", so hostile input
// cannot break the one-line message or the terminal.
std::string quote_for_message(std::string_view text);

// `0x` followed by `digits` lower-case hex digits of `value`.
std::string hex(std::uint64_t value, int digits);

// Writes `value` in lower-case hex, zero-padded to at least `digits` digits
// (as printf's "%0*llx"), at `out`, which has room for 16; returns the end.
// Without printf: kconfig writes tens of thousands of them.
char* put_hex(char* out, std::uint64_t value, int digits);

// A file mode's permission bits as four octal digits: octal(0100660) == "0660".
std::string octal(unsigned mode);

// The parts with `separator` between them: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string>& parts, std::string_view separator);

}  // namespace pcipass::core
