#include <pcipass/core/proc_parsers.hpp>

#include <pcipass/core/text.hpp>
#include <pcipass/core/text_lines.hpp>

namespace pcipass::core {
namespace {

// Decodes the kernel's octal escapes for space, tab, newline and backslash.
std::string unescape_octal(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const auto digit = [&](std::size_t k) { return text[i + k] >= '0' && text[i + k] <= '7'; };
      if (digit(1) && digit(2) && digit(3)) {
        out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                 (text[i + 3] - '0'));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  for (std::string_view line : split_lines(text)) {
    const auto f = split_fields(line);
    // id parent maj:min root mount-point options [optional...] - fstype source super-options
    if (f.size() < 7) continue;
    std::size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 2 >= f.size()) continue;
    const std::string_view dev = f[2];
    const std::size_t colon = dev.find(':');
    if (colon == std::string_view::npos) continue;
    const auto major = parse_decimal(dev.substr(0, colon));
    const auto minor = parse_decimal(dev.substr(colon + 1));
    if (!major || !minor || *major < 0 || *minor < 0) continue;
    MountEntry m;
    m.major = static_cast<unsigned>(*major);
    m.minor = static_cast<unsigned>(*minor);
    m.mount_point = unescape_octal(f[4]);
    m.fstype = unescape_octal(f[dash + 1]);
    m.source = unescape_octal(f[dash + 2]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::vector<SwapEntry> parse_swaps(std::string_view text) {
  std::vector<SwapEntry> swaps;
  bool header = true;
  for (std::string_view line : split_lines(text)) {
    if (header) {
      header = false;
      if (line.starts_with("Filename")) continue;
    }
    const auto f = split_fields(line);
    if (f.size() < 2) continue;
    swaps.push_back(SwapEntry{unescape_octal(f[0]), f[1] == "file"});
  }
  return swaps;
}

std::vector<RouteEntry> parse_routes(std::string_view text) {
  std::vector<RouteEntry> routes;
  for (std::string_view line : split_lines(text)) {
    const auto f = split_fields(line);
    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
    if (f.size() < 8 || f[0] == "Iface") continue;
    const auto destination = parse_hex(f[1]);
    const auto mask = parse_hex(f[7]);
    if (!destination || !mask) continue;
    routes.push_back(RouteEntry{std::string(f[0]), *destination == 0 && *mask == 0});
  }
  return routes;
}

std::vector<Inet6Address> parse_if_inet6(std::string_view text) {
  std::vector<Inet6Address> addresses;
  for (std::string_view line : split_lines(text)) {
    const auto f = split_fields(line);
    // address ifindex prefix-length scope flags name
    if (f.size() < 6) continue;
    const auto scope = parse_hex(f[3]);
    if (!scope) continue;
    // 0x10 host (loopback), 0x20 link-local: neither makes a NIC needed.
    if (*scope == 0x10 || *scope == 0x20) continue;
    addresses.push_back(Inet6Address{std::string(f[5])});
  }
  return addresses;
}

std::vector<RouteEntry> parse_ipv6_routes(std::string_view text) {
  std::vector<RouteEntry> routes;
  for (std::string_view line : split_lines(text)) {
    const auto f = split_fields(line);
    // dest dest-len src src-len next-hop metric refcnt use flags iface
    if (f.size() < 10) continue;
    if (f[9] == "lo") continue;
    const bool is_default = f[0] == "00000000000000000000000000000000" && f[1] == "00";
    if (is_default) routes.push_back(RouteEntry{std::string(f[9]), true});
  }
  return routes;
}

}  // namespace pcipass::core
