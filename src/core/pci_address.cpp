#include <pcipass/core/pci_address.hpp>

#include <pcipass/core/text.hpp>

#include <cstdio>

namespace pcipass::core {
namespace {

constexpr std::string_view k_expected =
    "expected DDDD:BB:SS.F (e.g. 0000:2d:00.0), BB:SS.F or pci_DDDD_BB_SS_F";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Cursor {
  std::string_view text;
  std::size_t pos = 0;
};

// Reads between `min_digits` and `max_digits` hex digits.
Result<std::uint32_t> read_hex(Cursor& cur, std::size_t min_digits, std::size_t max_digits,
                               std::string_view field, std::string_view original) {
  std::uint32_t value = 0;
  std::size_t count = 0;
  while (cur.pos < cur.text.size() && count < max_digits) {
    const int digit = hex_value(cur.text[cur.pos]);
    if (digit < 0) break;
    value = value * 16 + static_cast<std::uint32_t>(digit);
    ++cur.pos;
    ++count;
  }
  if (count < min_digits) {
    const bool separator_next = cur.pos >= cur.text.size() || cur.text[cur.pos] == ':' ||
                                cur.text[cur.pos] == '_' || cur.text[cur.pos] == '.';
    std::string why;
    if (!separator_next) {
      why = quote_for_message(std::string_view(&cur.text[cur.pos], 1)) + " is not a hex digit in the " +
            std::string(field);
    } else if (count == 0) {
      why = "the " + std::string(field) + " is missing";
    } else if (min_digits == max_digits) {
      why = "the " + std::string(field) + " needs " + std::to_string(min_digits) + " hex digits";
    } else {
      why = "the " + std::string(field) + " needs " + std::to_string(min_digits) + " to " +
            std::to_string(max_digits) + " hex digits";
    }
    return fail("invalid PCI address " + quote_for_message(original) + ": " + why + "; " +
                    std::string(k_expected),
                ExitCode::usage);
  }
  return value;
}

Result<PciAddress> parse_impl(std::string_view original) {
  auto bad = [&](const std::string& why) {
    return fail("invalid PCI address " + quote_for_message(original) + ": " + why + "; " +
                    std::string(k_expected),
                ExitCode::usage);
  };
  if (original.empty()) return bad("it is empty");
  if (original.find('/') != std::string_view::npos) return bad("it looks like a path");

  std::string_view text = original;
  char group_sep = ':';
  char function_sep = '.';
  bool libvirt_form = false;
  if (text.starts_with("pci_")) {
    text.remove_prefix(4);
    group_sep = '_';
    function_sep = '_';
    libvirt_form = true;
  }

  // Count separators to tell DDDD:BB:SS.F from BB:SS.F.
  std::size_t separators = 0;
  for (char c : text) separators += (c == group_sep) ? 1 : 0;
  const bool has_domain = libvirt_form ? true : separators >= 2;
  if (libvirt_form && separators != 3) return bad("libvirt names have four parts");

  Cursor cur{text};
  PciAddress addr;
  auto expect = [&](char sep, std::string_view after) -> Status {
    if (cur.pos >= text.size() || text[cur.pos] != sep) {
      return bad(std::string("expected '") + sep + "' after the " + std::string(after));
    }
    ++cur.pos;
    return ok();
  };

  if (has_domain) {
    auto domain = read_hex(cur, 4, 8, "domain", original);
    if (!domain) return fail(domain.error());
    addr.domain = *domain;
    if (auto s = expect(group_sep, "domain"); !s) return fail(s.error());
  }
  auto bus = read_hex(cur, 2, 2, "bus", original);
  if (!bus) return fail(bus.error());
  addr.bus = static_cast<std::uint8_t>(*bus);
  if (auto s = expect(group_sep, "bus"); !s) return fail(s.error());

  auto slot = read_hex(cur, 2, 2, "slot", original);
  if (!slot) return fail(slot.error());
  if (*slot > 0x1f) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "slot 0x%02x is above 0x1f", *slot);
    return bad(buf);
  }
  addr.slot = static_cast<std::uint8_t>(*slot);
  if (auto s = expect(function_sep, "slot"); !s) return fail(s.error());

  if (cur.pos >= text.size()) return bad("the function is missing");
  const int function = hex_value(text[cur.pos]);
  if (function < 0) return bad(quote_for_message(text.substr(cur.pos, 1)) + " is not a function number");
  if (function > 7) return bad("function " + std::to_string(function) + " is above 7");
  addr.function = static_cast<std::uint8_t>(function);
  ++cur.pos;
  if (cur.pos != text.size()) {
    return bad("unexpected " + quote_for_message(text.substr(cur.pos)) + " after the function");
  }
  return addr;
}

}  // namespace

Result<PciAddress> PciAddress::parse(std::string_view text) { return parse_impl(text); }

std::string PciAddress::to_string() const {
  char buf[32];
  char* end = put_hex(buf, domain, 4);
  *end++ = ':';
  end = put_hex(end, bus, 2);
  *end++ = ':';
  end = put_hex(end, slot, 2);
  *end++ = '.';
  end = put_hex(end, function, 1);
  return std::string(buf, end);
}

std::string PciAddress::libvirt_name() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "pci_%04x_%02x_%02x_%x", domain, bus, slot, function);
  return buf;
}

}  // namespace pcipass::core
