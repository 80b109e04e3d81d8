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
  ASSERT_TRUE(apply_usage_report(inventory, *report, "r.json"));
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
  const auto refused = apply_usage_report(inventory, *swapped, "r.json");
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
