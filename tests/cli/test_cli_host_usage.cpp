// Host usage of another host (issue 17 item 2): `pcipass list --json` run
// on that host, read back with --host-usage FILE, gives the devices read
// through libvirt (or lspci text) the protection of a local run, and only
// when it describes those very devices.

#include "support/sim_host.hpp"

#include <pcipass/core/host_identity.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

std::string test_uri(const std::string& host) { return test_driver_uri(host); }

// `pcipass list --json` as run on the host the test driver stands for,
// with the simulated `host`'s devices.
fs::path report_of(const std::string& host, const TempDir& dir) {
  const fs::path file = dir.path() / (host + "-usage.json");
  put_file(file, usage_report_for_test_driver(host));
  return file;
}

std::string status_of(const nlohmann::json& doc, const std::string& address) {
  for (const auto& d : doc["devices"]) {
    if (d["address"] == address) return d["status"].get<std::string>();
  }
  return "missing";
}

TEST(CliHostUsage, AReportFromTheHostGivesItsDevicesTheirUsage) {
  TempDir dir;
  const fs::path report = report_of("workstation", dir);
  const auto r =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", report.string(), "--json", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no "host usage unknown" warning
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(status_of(doc, "0000:01:00.0"), "host-in-use");  // the boot drive
  EXPECT_EQ(status_of(doc, "0000:05:00.0"), "host-in-use");  // the NIC with the default route
  EXPECT_EQ(status_of(doc, "0000:02:00.0"), "free");         // the ZNS drive

  // The menu offers the ZNS drive as a local run would, never the boot drive.
  const auto kconfig =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", report.string(), "kconfig"});
  ASSERT_EQ(kconfig.exit_code, 0) << kconfig.err;
  EXPECT_NE(kconfig.out.find("0000:02:00.0"), std::string::npos);
  EXPECT_EQ(kconfig.out.find("\"0000:01:00.0"), std::string::npos);
  const auto local = run_pcipass({"--sysfs-root", (sim_host("workstation") / "sys").string(), "kconfig"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto offered = [](const std::string& text) {
    std::size_t count = 0;
    for (std::size_t at = text.find("\tbool "); at != std::string::npos; at = text.find("\tbool ", at + 1))
      ++count;
    return count;
  };
  EXPECT_EQ(offered(kconfig.out), offered(local.out));
  EXPECT_GT(offered(local.out), 0u);

  // Planning the boot drive is refused as on the host itself.
  const auto plan = run_pcipass({"-c", test_uri("workstation"), "--host-usage", report.string(),
                                 "plan", "--guests", "lab", "0000:01:00.0"});
  EXPECT_EQ(plan.exit_code, 5);
  EXPECT_NE(plan.err.find("0000:01:00.0: used by the host"), std::string::npos) << plan.err;
}

TEST(CliHostUsage, AReportOfOtherDevicesIsRefusedAndNothingIsCalledFree) {
  TempDir dir;
  const fs::path laptop = report_of("laptop", dir);
  const auto r =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", laptop.string(), "list"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: refusing the host usage in " + laptop.string() +
                                ": it does not describe these devices"))
      << r.err;
  EXPECT_EQ(r.out, "");

  // The same host with the ZNS drive swapped for another model.
  auto doc = nlohmann::json::parse(file_text(report_of("workstation", dir)));
  for (auto& d : doc["devices"]) {
    if (d["address"] == "0000:02:00.0") d["device_id"] = "0xa80c";
  }
  const fs::path changed = dir.path() / "changed.json";
  put_file(changed, doc.dump());
  const auto other =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", changed.string(), "list"});
  EXPECT_EQ(other.exit_code, 5);
  EXPECT_NE(other.err.find("\n  0000:02:00.0: 1b96:2600 here, 1b96:a80c in the report\n"),
            std::string::npos)
      << other.err;
}

TEST(CliHostUsage, AReportOfAMachineBuiltAlikeIsRefused) {
  // The twin of the host the test driver stands for: the very same
  // devices, so only the host's name tells its report from that host's.
  TempDir dir;
  auto doc = nlohmann::json::parse(file_text(report_of("workstation", dir)));
  const std::string here = core::normal_hostname(local_hostname());
  ASSERT_FALSE(here.empty()) << "this machine needs a hostname for this test";
  doc["host"]["hostname"] = here + "-twin";
  const fs::path twin = dir.path() / "twin.json";
  put_file(twin, doc.dump());
  const auto r = run_pcipass({"-c", test_uri("workstation"), "--host-usage", twin.string(), "kconfig"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err, "pcipass: error: refusing the host usage in " + twin.string() +
                       ": it was made on another machine (hostname '" + here + "-twin' and '" +
                       here + "': the report's first); run pcipass list --json on the host whose "
                       "devices these are and pass its output\n");
  EXPECT_EQ(r.out, "");

  // A report naming no host at all (an older pcipass's, or edited) is not
  // taken on trust either.
  doc.erase("host");
  put_file(twin, doc.dump());
  const auto nameless =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", twin.string(), "list"});
  EXPECT_EQ(nameless.exit_code, 5);
  EXPECT_NE(nameless.err.find(": nothing ties it to the host whose devices these are (the report: "
                              "no identity; that host: host '" + here + "'"),
            std::string::npos)
      << nameless.err;

  // The simulated host's own report names that host, not this machine.
  const auto own = run_pcipass({"--sysfs-root", (sim_host("workstation") / "sys").string(), "--json", "list"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const auto report = nlohmann::json::parse(own.out);
  EXPECT_EQ(report["host"], nlohmann::json::parse(R"({"hostname": "workstation",
      "machine_id": "5c1b2e0f9a7d4c3e8b6a1d2f3e4c5b6a",
      "system_uuid": "4c4c4544-0057-3810-8031-c2c04f4e5832", "libvirt_uuid": null})"));
  put_file(twin, own.out);
  const auto refused =
      run_pcipass({"-c", test_uri("workstation"), "--host-usage", twin.string(), "list"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
}

TEST(CliHostUsage, BadReportsAndLocalRunsFailClearly) {
  TempDir dir;
  const fs::path broken = dir.path() / "broken.json";
  put_file(broken, "{\"schema\": 1, \"devices\": [{\"address\": \"0000:02:00.0\", "
                   "\"vendor_id\": \"1b96\"}]}");
  const auto r = run_pcipass({"-c", test_uri("workstation"), "--host-usage", broken.string(), "list"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pcipass: error: reading " + broken.string() +
                       ": host usage report: devices[0] (0000:02:00.0): vendor_id or device_id "
                       "is not \"0xHHHH\" or null (expected the output of pcipass list --json, "
                       "run on that host without filters)\n");
  const auto missing = run_pcipass(
      {"-c", test_uri("workstation"), "--host-usage", (dir.path() / "none.json").string(), "list"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  // This machine's own usage is read directly.
  const auto local = run_pcipass({"--sysfs-root", (sim_host("workstation") / "sys").string(),
                                  "--host-usage", broken.string(), "list"});
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_EQ(local.err,
            "pcipass: error: --host-usage is for devices read from another host (-c URI of that "
            "host, or --lspci); this machine's host usage is read from its own /sys and /proc\n");
}

}  // namespace
}  // namespace pcipass::test
