// Host usage reports: another host's `pcipass list --json`, used only when
// it describes the very devices read.

#include "support/test_devices.hpp"

#include <pcipass/core/usage_report.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::core {
namespace {

using test::addr;

nlohmann::json reported(const char* address, const char* device_id, const char* dsn,
                        std::vector<std::string> uses) {
  return {{"address", address},
          {"vendor_id", "0x144d"},
          {"device_id", device_id},
          {"identity", {{"dsn", dsn == nullptr ? nlohmann::json(nullptr) : nlohmann::json(dsn)}}},
          {"host_uses", uses},
          {"host_usage_unknown", nullptr}};
}

Inventory two_drives(const char* second_dsn = "00-00-00-00-00-00-00-02") {
  PciDevice boot = test::device("0000:01:00.0", 0x144d, 0xa80c, 0x010802, "nvme", 1);
  boot.dsn = "00-00-00-00-00-00-00-01";
  PciDevice spare = test::device("0000:02:00.0", 0x144d, 0xa80c, 0x010802, "nvme", 2);
  spare.dsn = second_dsn;
  Inventory inventory = test::inventory_of({boot, spare});
  for (auto& [address, d] : inventory.devices()) d.host_usage_unknown = "another host";
  return inventory;
}

std::string report_text(std::vector<nlohmann::json> devices) {
  return nlohmann::json{{"schema", 1}, {"source", "sysfs:/sys"}, {"devices", devices}}.dump();
}

TEST(UsageReport, GivesEachDeviceItsUsageWhenItDescribesThem) {
  const auto report = parse_usage_report(report_text(
      {reported("0000:01:00.0", "0xa80c", "00-00-00-00-00-00-00-01", {"backs / (ext4 on /dev/nvme0n1p2)"}),
       reported("0000:02:00.0", "0xa80c", nullptr, {})}));
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->source, "sysfs:/sys");
  Inventory inventory = two_drives();
  ASSERT_TRUE(apply_usage_report(inventory, *report, "r.json", nullptr));
  EXPECT_EQ(inventory.find(addr("0000:01:00.0"))->host_uses,
            std::vector<std::string>{"backs / (ext4 on /dev/nvme0n1p2)"});
  EXPECT_FALSE(inventory.find(addr("0000:02:00.0"))->host_may_need());
}

TEST(UsageReport, AReportOfOtherDevicesChangesNothing) {
  // The twin drives swapped: the report's boot drive DSN is at 02:00.0 now.
  const auto swapped = parse_usage_report(report_text(
      {reported("0000:01:00.0", "0xa80c", "00-00-00-00-00-00-00-01", {"backs /"}),
       reported("0000:02:00.0", "0xa80c", "00-00-00-00-00-00-00-09", {}),
       reported("0000:03:00.0", "0xa80c", nullptr, {})}));
  ASSERT_TRUE(swapped);
  Inventory inventory = two_drives();
  const Inventory before = inventory;
  const auto refused = apply_usage_report(inventory, *swapped, "r.json", nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ExitCode::refused);
  EXPECT_EQ(refused.error().message,
            "refusing the host usage in r.json: it does not describe these devices (another "
            "host's report, or one older than a hardware change? run pcipass list --json on the "
            "host again):\n"
            "  0000:02:00.0: another device (DSN 00-00-00-00-00-00-00-02, not "
            "00-00-00-00-00-00-00-09: the first here, the second in the report)\n"
            "  0000:03:00.0: in the report, not here");
  for (const auto& [address, d] : inventory.devices()) {
    EXPECT_EQ(d.host_usage_unknown, before.find(address)->host_usage_unknown);
    EXPECT_TRUE(d.host_uses.empty());
  }
}

nlohmann::json with_host(const std::string& text, nlohmann::json host) {
  nlohmann::json doc = nlohmann::json::parse(text);
  doc["host"] = std::move(host);
  return doc;
}

TEST(UsageReport, AReportOfATwinHostIsRefusedAndChangesNothing) {
  // Two machines built alike: the same drives at the same addresses. Only
  // the host's identity tells the report of one from the other's.
  const std::string devices = report_text(
      {reported("0000:01:00.0", "0xa80c", nullptr, {"backs /"}), reported("0000:02:00.0", "0xa80c", nullptr, {})});
  const auto report = parse_usage_report(
      with_host(devices, {{"hostname", "lab1"}, {"machine_id", "3d1219c7c4c5404aaa1f6d2a48adfda4"}}).dump());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->host.hostname, "lab1");
  Inventory inventory = two_drives();
  const HostIdentity twin{"lab2.example.org", "", "", ""};
  const auto refused = apply_usage_report(inventory, *report, "r.json", &twin);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ExitCode::refused);
  EXPECT_EQ(refused.error().message,
            "refusing the host usage in r.json: it was made on another machine (hostname 'lab1' "
            "and 'lab2.example.org': the report's first); run pcipass list --json on the host "
            "whose devices these are and pass its output");
  for (const auto& [address, d] : inventory.devices()) EXPECT_TRUE(d.host_uses.empty());

  // Nothing known on both sides: refused too, saying what each side knows.
  const HostIdentity nameless{"", "", "", "2cea74ce-619f-4a90-a544-066f6b78f41f"};
  const auto unknown = apply_usage_report(inventory, *report, "r.json", &nameless);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ExitCode::refused);
  EXPECT_EQ(unknown.error().message,
            "refusing the host usage in r.json: nothing ties it to the host whose devices these "
            "are (the report: host 'lab1', machine id 3d1219c7c4c5404aaa1f6d2a48adfda4; that host: "
            "libvirt host UUID 2cea74ce-619f-4a90-a544-066f6b78f41f); run pcipass list --json "
            "there again (it names its host), and give a host called localhost a name of its own");

  // The host itself, known by its full name.
  const HostIdentity itself{"lab1.example.org", "", "", "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4"};
  ASSERT_TRUE(apply_usage_report(inventory, *report, "r.json", &itself));
  EXPECT_EQ(inventory.find(addr("0000:01:00.0"))->host_uses, std::vector<std::string>{"backs /"});

  // A report without a host (an older pcipass's) is refused for any host.
  const auto old = parse_usage_report(devices);
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->host.empty());
  EXPECT_FALSE(apply_usage_report(inventory, *old, "r.json", &itself));
  const auto bad = parse_usage_report(with_host(devices, {{"hostname", 1}}).dump());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ExitCode::bad_input);
}

TEST(UsageReport, MalformedReportsAreBadInput) {
  const auto device = reported("0000:01:00.0", "0xa80c", nullptr, {});
  for (const std::string& text :
       {std::string("not json"), std::string("[]"),
        nlohmann::json{{"schema", 2}, {"devices", {device}}}.dump(),
        nlohmann::json{{"schema", 1}}.dump(), report_text({}), report_text({device, device}),
        report_text({nlohmann::json{{"address", "02:00"}}}),
        report_text({nlohmann::json{{"address", "0000:01:00.0"}, {"host_uses", {1}}}})}) {
    const auto r = parse_usage_report(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ExitCode::bad_input) << text;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace pcipass::core
