#include <pcipass/core/text.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pcipass::core {
namespace {

// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 when invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t len = 0;
  std::uint32_t min = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; }
  else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; }
  else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  // C1 control characters (U+0080..U+009F) are as dangerous as C0 ones.
  if (cp >= 0x80 && cp <= 0x9f) return 0;
  // Unicode line and paragraph separators break lines in some consumers.
  if (cp == 0x2028 || cp == 0x2029) return 0;
  return len;
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string sanitize_untrusted(std::string_view raw) {
  // Most text (names from pci.ids, driver names) is printable ASCII with no
  // blank at either end and within the cap: cleaning changes nothing.
  const bool plain =
      raw.size() <= k_max_untrusted_length && (raw.empty() || (raw.front() != ' ' && raw.back() != ' ')) &&
      std::all_of(raw.begin(), raw.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (plain) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(raw, i);
    if (len == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
      continue;
    }
    out.append(raw.substr(i, len));
    i += len;
  }
  std::string trimmed(trim(out));
  if (trimmed.size() > k_max_untrusted_length) {
    // The cut text with its "..." fits the cap, so cleaning a cleaned string
    // changes nothing: a value written to a file and read back compares equal.
    std::size_t cut = k_max_untrusted_length - 3;
    // Do not cut a UTF-8 sequence in half.
    while (cut > 0 && (static_cast<unsigned char>(trimmed[cut]) & 0xc0) == 0x80) --cut;
    trimmed.resize(cut);
    trimmed += "...";
  }
  return trimmed;
}

std::optional<std::uint64_t> parse_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t k_shown = 64;
  std::string out = "'";
  for (unsigned char c : text.substr(0, k_shown)) {
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > k_shown) out += "...";
  out += "'";
  return out;
}

char* put_hex(char* out, std::uint64_t value, int digits) {
  static constexpr char k_digits[] = "0123456789abcdef";
  int count = 1;
  for (std::uint64_t v = value >> 4; v != 0; v >>= 4) ++count;
  if (digits > 16) digits = 16;
  if (count < digits) count = digits;
  for (int i = count - 1; i >= 0; --i) {
    out[i] = k_digits[value & 0xf];
    value >>= 4;
  }
  return out + count;
}

std::string hex(std::uint64_t value, int digits) {
  char buf[20] = {'0', 'x'};
  return std::string(buf, put_hex(buf + 2, value, digits));
}

std::string octal(unsigned mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace pcipass::core
