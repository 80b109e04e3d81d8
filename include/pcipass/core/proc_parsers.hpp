#pragma once

// Parsers for the /proc files host-usage probes read. They take text, so
// tests pass strings; lines they cannot read are skipped, because /proc
// formats grow fields over kernel versions and a probe must not fail a
// listing over one odd line.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// One line of /proc/self/mountinfo.
struct MountEntry {
  unsigned major = 0;
  unsigned minor = 0;
  std::string mount_point;  // octal escapes (\040) decoded
  std::string fstype;
  std::string source;       // e.g. /dev/nvme0n1p2
};
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// One active swap area of /proc/swaps.
struct SwapEntry {
  std::string path;  // /dev/nvme0n1p3 or /swapfile
  bool is_file = false;
};
std::vector<SwapEntry> parse_swaps(std::string_view text);

// One IPv4 route of /proc/net/route.
struct RouteEntry {
  std::string interface;
  bool is_default = false;  // destination and mask 0.0.0.0/0
};
std::vector<RouteEntry> parse_routes(std::string_view text);

// One IPv6 address of /proc/net/if_inet6 that is not link-local or loopback.
struct Inet6Address {
  std::string interface;
};
std::vector<Inet6Address> parse_if_inet6(std::string_view text);

// The default IPv6 routes of /proc/net/ipv6_route (::/0), by interface.
std::vector<RouteEntry> parse_ipv6_routes(std::string_view text);

}  // namespace pcipass::core
