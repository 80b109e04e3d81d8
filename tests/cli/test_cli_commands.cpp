// `pcipass list` and `pcipass groups` end to end on simulated hosts: what a
// person and a program see.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::test {
namespace {

std::vector<std::string> on_host(const std::string& host, std::vector<std::string> args) {
  const std::string sys = (sim_host(host) / "sys").string();
  args.insert(args.begin(), {"--sysfs-root", sys});
  return args;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

TEST(CliList, TableShowsGroupsNamesDriversAndHostUse) {
  const auto r = run_pcipass(on_host("workstation", {"list"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 19u);  // header + 18 functions
  EXPECT_TRUE(lines[0].starts_with("ADDRESS       GROUP  CLASS")) << lines[0];
  bool saw_root = false, saw_zns = false, saw_gpu = false;
  for (const std::string& line : lines) {
    if (line.starts_with("0000:01:00.0")) {
      saw_root = true;
      EXPECT_NE(line.find("/dev/nvme0n1 - Samsung SSD 980 PRO 1TB with FW 5B2QGXA7"), std::string::npos);
      EXPECT_TRUE(line.ends_with("host-in-use: backs / (ext4 on /dev/nvme0n1p2); backs /boot/efi "
                                 "(vfat on /dev/nvme0n1p1); swap on /dev/nvme0n1p3"))
          << line;
    }
    if (line.starts_with("0000:02:00.0")) {
      saw_zns = true;
      EXPECT_TRUE(line.ends_with("nvme           free")) << line;
    }
    if (line.starts_with("0000:2d:00.0")) {
      saw_gpu = true;
      EXPECT_NE(line.find("with 8.0 GiB"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(saw_root && saw_zns && saw_gpu);
}

TEST(CliList, FiltersByClassVendorAndGroup) {
  auto r = run_pcipass(on_host("workstation", {"list", "--class", "0108"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), 3u) << r.out;
  r = run_pcipass(on_host("workstation", {"list", "--class", "ethernet"}));
  EXPECT_EQ(lines_of(r.out).size(), 2u) << r.out;
  r = run_pcipass(on_host("workstation", {"list", "--vendor", "8086"}));
  EXPECT_EQ(lines_of(r.out).size(), 2u) << r.out;
  r = run_pcipass(on_host("workstation", {"list", "--group", "15", "--class", "04"}));
  ASSERT_EQ(lines_of(r.out).size(), 2u) << r.out;
  EXPECT_TRUE(lines_of(r.out)[1].starts_with("0000:2d:00.1"));
}

TEST(CliList, JsonFollowsTheDocumentedSchema) {
  const auto r = run_pcipass(on_host("workstation", {"list", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], 1);
  EXPECT_TRUE(doc["source"].get<std::string>().starts_with("sysfs:"));
  EXPECT_EQ(doc["iommu"], true);
  ASSERT_EQ(doc["devices"].size(), 18u);
  const auto& nvme = doc["devices"][9];
  EXPECT_EQ(nvme["address"], "0000:01:00.0");
  EXPECT_EQ(nvme["vendor_id"], "0x144d");
  EXPECT_EQ(nvme["class"], "0x010802");
  EXPECT_EQ(nvme["kind"], "endpoint");
  EXPECT_EQ(nvme["driver"], "nvme");
  EXPECT_EQ(nvme["iommu_group"], 8);
  EXPECT_EQ(nvme["status"], "host-in-use");
  EXPECT_EQ(nvme["nvme"][0]["model"], "Samsung SSD 980 PRO 1TB");
  EXPECT_EQ(nvme["host_uses"][0], "backs / (ext4 on /dev/nvme0n1p2)");
  EXPECT_EQ(doc["devices"][0]["kind"], "host-bridge");
}

TEST(CliList, HostileStringsStayInsideValidJsonAndOneTableLinePerDevice) {
  const auto root = sim_host("hostile");
  const std::string ids = (root / "pci.ids").string();
  auto r = run_pcipass(on_host("hostile", {"--pci-ids", ids, "list", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);  // throws on invalid JSON or UTF-8
  for (const auto& d : doc["devices"]) {
    const std::string name = d["human_name"];
    EXPECT_EQ(name.find('\n'), std::string::npos) << name;
  }
  r = run_pcipass(on_host("hostile", {"--pci-ids", ids, "list"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), doc["devices"].size() + 1);
}

TEST(CliGroups, SaysWhichGroupsCanGoToAGuestAndWhyNot) {
  const auto r = run_pcipass(on_host("workstation", {"groups", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  std::map<int, nlohmann::json> groups;
  for (const auto& g : doc["groups"]) groups[g["group"].get<int>()] = g;
  EXPECT_EQ(groups[9]["passthrough"], "needs-bind");  // the free ZNS drive
  EXPECT_EQ(groups[9]["reasons"][0], "0000:02:00.0 is on host driver nvme");
  EXPECT_EQ(groups[8]["passthrough"], "blocked");  // the root disk
  EXPECT_EQ(groups[15]["passthrough"], "blocked");  // the boot GPU and its audio
  EXPECT_EQ(groups[15]["endpoints"].size(), 2u);
  EXPECT_EQ(groups[2]["passthrough"], "bridges-only");
  EXPECT_EQ(groups[0]["passthrough"], "bridges-only");  // a host bridge alone
}

TEST(CliGroups, TableListsMembersAndReasons) {
  const auto r = run_pcipass(on_host("workstation", {"groups"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("IOMMU group 15: blocked\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  why: 0000:2d:00.0 is used by the host: boot VGA device; framebuffer "
                       "console (fb0)\n"),
            std::string::npos)
      << r.out;
}

TEST(CliGroups, HidesBridgeOnlyGroupsUnlessAll) {
  auto r = run_pcipass(on_host("workstation", {"groups"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("IOMMU group 2:"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with(
      "\n(10 groups holding only bridges and host bridges not shown; --all shows them)\n"))
      << r.out;
  r = run_pcipass(on_host("workstation", {"groups", "--all"}));
  EXPECT_NE(r.out.find("IOMMU group 2: bridges-only\n"), std::string::npos) << r.out;
}

TEST(CliGroups, LaptopHasOneGroupBlockedByTheHost) {
  const auto r = run_pcipass(on_host("laptop", {"groups", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["groups"].size(), 1u);
  EXPECT_EQ(doc["groups"][0]["passthrough"], "blocked");
}

TEST(CliNoIommu, ListWarnsAndGroupsFailsWithTheFix) {
  const std::string fix =
      "this host has no IOMMU groups: the IOMMU is missing or disabled. Enable VT-d (Intel) or "
      "AMD-Vi (AMD) in the firmware and boot with intel_iommu=on or amd_iommu=on (plus "
      "iommu=pt) on the kernel command line";
  auto r = run_pcipass(on_host("noiommu", {"list"}));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "pcipass: warning: " + fix + "\n");
  EXPECT_NE(r.out.find("0000:00:02.0"), std::string::npos);
  r = run_pcipass(on_host("noiommu", {"groups"}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "pcipass: error: " + fix + "\n");
  EXPECT_EQ(r.out, "");
}

// lspci text is not this machine's: the same devices, ids, names and groups
// as sysfs gives, but neither this machine's sysfs details (NVMe, network,
// GPU memory) nor its host usage: every device's usage is unknown.
TEST(CliSources, LspciTextFromStdinGivesTheSameDevicesButNeverThisMachinesUsage) {
  const auto root = sim_host("workstation");
  const auto lspci = run_command({"lspci", "-A", "linux-sysfs", "-O",
                                  "sysfs.path=" + (root / "sys/bus/pci").string(), "-Dvmmmnnk"});
  ASSERT_EQ(lspci.exit_code, 0) << lspci.err;
  auto from_sysfs = nlohmann::json::parse(run_pcipass(on_host("workstation", {"list", "--json"})).out);
  const auto r = run_pcipass(on_host("workstation", {"list", "--json", "--lspci", "-"}), lspci.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: warning: host usage unknown: the devices come from lspci text, not this "
            "machine's /sys; none is called free, acting on one needs --force (or pass "
            "--host-usage FILE: pcipass list --json run on that host)\n");
  auto from_lspci = nlohmann::json::parse(r.out);
  EXPECT_EQ(from_lspci["source"], "lspci:-");
  ASSERT_EQ(from_lspci["devices"].size(), from_sysfs["devices"].size());
  std::size_t used_here = 0;
  for (auto& d : from_sysfs["devices"]) used_here += d["status"] == "host-in-use" ? 1 : 0;
  EXPECT_GT(used_here, 0u);  // the simulated host's root disk, NIC and boot GPU
  for (const auto& d : from_lspci["devices"]) {
    EXPECT_EQ(d["status"], "host-usage-unknown") << d["address"];
    EXPECT_EQ(d["host_usage_unknown"], "lspci text, not this machine's /sys");
    EXPECT_EQ(d["host_uses"], nlohmann::json::array());
  }
  EXPECT_EQ(from_lspci["host"], nullptr);  // lspci text names no host
  EXPECT_EQ(from_sysfs["host"]["hostname"], "workstation");
  for (auto* doc : {&from_sysfs, &from_lspci}) {
    (*doc)["source"] = "";
    doc->erase("host");
    for (auto& d : (*doc)["devices"]) {
      for (const char* key : {"status", "host_usage_unknown", "host_uses", "human_name", "nvme",
                              "net", "memory_bytes", "memory_source", "boot_vga", "identity", "reset_methods"}) {
        d.erase(key);
      }
    }
  }
  EXPECT_EQ(from_sysfs.dump(1), from_lspci.dump(1));
}

// Devices read through libvirt's test driver are not this machine's: this
// machine's root disk or NIC says nothing about them, and none of them is
// ever called free, offered as free in the menu, or planned without --force.
TEST(CliSources, ATestDriverInventoryIsNeverCalledFree) {
  const std::string uri = "test://" + (sim_host("workstation") / "libvirt-test.xml").string();
  const std::string warning = "pcipass: warning: host usage unknown: the devices come from "
                              "libvirt's test driver (" + uri +
                              "), not this machine; none is called free, acting on one needs "
                              "--force (or pass --host-usage FILE: pcipass list --json run on "
                              "that host)\n";
  const auto listed = run_pcipass({"-c", uri, "list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.err, warning);
  const auto doc = nlohmann::json::parse(listed.out);
  ASSERT_FALSE(doc["devices"].empty());
  for (const auto& d : doc["devices"]) {
    EXPECT_EQ(d["status"], "host-usage-unknown") << d["address"];
    EXPECT_EQ(d["host_usage_unknown"], "libvirt's test driver (" + uri + "), not this machine");
  }

  const auto kconfig = run_pcipass({"-c", uri, "kconfig"});
  ASSERT_EQ(kconfig.exit_code, 0) << kconfig.err;
  EXPECT_EQ(kconfig.err, warning +
                             "pcipass: warning: no passthrough candidates: host usage is unknown "
                             "for all 7 endpoints (--include-host-devices offers them anyway, "
                             "with a warning)\n");
  EXPECT_EQ(kconfig.out.find("\tbool "), std::string::npos);

  const auto planned = run_pcipass({"-c", uri, "plan", "--guests", "lab", "0000:02:00.0"});
  EXPECT_EQ(planned.exit_code, 5);
  EXPECT_NE(planned.err.find("0000:02:00.0: host usage unknown: libvirt's test driver"),
            std::string::npos)
      << planned.err;
}

}  // namespace
}  // namespace pcipass::test
