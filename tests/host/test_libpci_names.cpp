// LibpciNames reads plain pci.ids files with core::PciIdsNames and leaves
// gzip-compressed ones to libpci: the same database through both must give
// the same names for every id in it, and for ids it lacks.

#include "support/sim_host.hpp"

#include <pcipass/host/libpci_names.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <tuple>
#include <vector>

namespace pcipass::host {
namespace {

struct Query {
  unsigned vendor, device, subsystem_vendor, subsystem_device;
};

// Every id of `text` (vendors, devices, subsystems, classes) plus neighbours
// the database lacks, as subsystem queries that exercise all four lookups.
std::vector<Query> queries_for(const std::string& text) {
  std::vector<Query> out = {{0x8086, 0x0d57, 0x8086, 0x0d57}, {0xfffe, 0x0001, 0x0000, 0x0000},
                            {0x144d, 0xa80a, 0x144d, 0xa801}, {0x1af4, 0x1041, 0x1af4, 0x1100}};
  std::istringstream in(text);
  std::string line;
  unsigned vendor = 0, device = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == 'C' || line[0] == 'S') continue;
    unsigned a = 0, b = 0;
    if (line[0] != '\t' && std::sscanf(line.c_str(), "%4x", &a) == 1) {
      vendor = a;
      out.push_back({vendor, 0x0000, vendor, 0xffff});
    } else if (line.size() > 1 && line[1] != '\t' && std::sscanf(line.c_str() + 1, "%4x", &a) == 1) {
      device = a;
      out.push_back({vendor, device, vendor, device});
      out.push_back({vendor, device ^ 1, 0x1234, 0x5678});
    } else if (std::sscanf(line.c_str(), "\t\t%4x %4x", &a, &b) == 2) {
      out.push_back({vendor, device, a, b});
      out.push_back({0, 0, a, b});
    }
  }
  return out;
}

void expect_same_as_libpci(const std::string& text) {
  test::TempDir dir;
  const auto plain = dir.path() / "pci.ids";
  std::ofstream(plain, std::ios::binary) << text;
  const auto gz = dir.path() / "copy.ids";
  std::ofstream(gz, std::ios::binary) << text;
  const auto r = test::run_command({"gzip", "-n", gz.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const LibpciNames ours(plain.string());
  const LibpciNames libpci(gz.string() + ".gz");
  std::size_t checked = 0;
  for (const Query& q : queries_for(text)) {
    const auto v = static_cast<std::uint16_t>(q.vendor), d = static_cast<std::uint16_t>(q.device);
    const auto sv = static_cast<std::uint16_t>(q.subsystem_vendor);
    const auto sd = static_cast<std::uint16_t>(q.subsystem_device);
    ASSERT_EQ(ours.vendor(v), libpci.vendor(v));
    ASSERT_EQ(ours.device(v, d), libpci.device(v, d));
    ASSERT_EQ(ours.subsystem(v, d, sv, sd), libpci.subsystem(v, d, sv, sd))
        << std::hex << v << ":" << d << " " << sv << ":" << sd;
    ++checked;
  }
  for (std::uint32_t cls = 0; cls <= 0xffff; ++cls) {
    ASSERT_EQ(ours.class_name(cls << 8), libpci.class_name(cls << 8)) << std::hex << cls;
  }
  EXPECT_GT(checked, 3u);
}

TEST(LibpciNames, GivesLibpcisNamesForASmallDatabase) {
  expect_same_as_libpci(
      "8086  Intel Corporation\n"
      "\t1572  Ethernet Controller X710 for 10GbE SFP+\n"
      "\t\t8086 0001  Ethernet Converged Network Adapter X710-4\n"
      "144d  Samsung Electronics Co Ltd\n"
      "\ta80a  NVMe SSD Controller PM9A1/PM9A3/980PRO\n"
      "S 144d\n"
      "\ta801  Generic Samsung subsystem\n"
      "C 02  Network controller\n"
      "\t00  Ethernet controller\n"
      "C 01  Mass storage controller\n");
}

TEST(LibpciNames, GivesLibpcisNamesForTheSystemDatabase) {
  const std::filesystem::path system = "/usr/share/misc/pci.ids";
  if (!std::filesystem::exists(system)) GTEST_SKIP() << system << " is missing";
  expect_same_as_libpci(test::file_text(system));
}

TEST(LibpciNames, GivesLibpcisNamesForTheHostileHostsDatabase) {
  const auto host = test::sim_host("hostile");
  if (!std::filesystem::exists(host / "pci.ids")) GTEST_SKIP() << "hostile host has no pci.ids";
  expect_same_as_libpci(test::file_text(host / "pci.ids"));
}

TEST(LibpciNames, AMissingFileGivesNumbers) {
  const LibpciNames names("/nonexistent/pci.ids");
  EXPECT_EQ(names.vendor(0x8086), "Vendor 8086");
  EXPECT_EQ(names.device(0x8086, 0x1572), "Device 1572");
  EXPECT_EQ(names.class_name(0x020000), "Class 0200");
}

}  // namespace
}  // namespace pcipass::host
