// The pure half of `pcipass doctor`: parsers of host text and the rendering.

#include <pcipass/core/doctor.hpp>

#include <gtest/gtest.h>

namespace pcipass::core {
namespace {

TEST(Doctor, CpuVendorFromCpuinfo) {
  EXPECT_EQ(parse_cpu_vendor("processor\t: 0\nvendor_id\t: GenuineIntel\n"), CpuVendor::intel);
  EXPECT_EQ(parse_cpu_vendor("processor\t: 0\nvendor_id\t: AuthenticAMD\n"), CpuVendor::amd);
  EXPECT_EQ(parse_cpu_vendor("processor\t: 0\nvendor_id\t: HygonGenuine\n"), CpuVendor::unknown);
  EXPECT_EQ(parse_cpu_vendor(""), CpuVendor::unknown);
}

TEST(Doctor, CmdlineFlag) {
  EXPECT_EQ(iommu_cmdline_flag("ro quiet intel_iommu=on iommu=pt\n"), "intel_iommu=on");
  EXPECT_EQ(iommu_cmdline_flag("ro amd_iommu=on"), "amd_iommu=on");
  EXPECT_EQ(iommu_cmdline_flag("ro intel_iommu=off xintel_iommu=on"), "");
}

TEST(Doctor, IntelEcapInterruptRemappingBit) {
  EXPECT_EQ(intel_interrupt_remapping("f0050aff7ef\n"), true);
  EXPECT_EQ(intel_interrupt_remapping("f0050aff7e7"), false);
  EXPECT_EQ(intel_interrupt_remapping("zz"), std::nullopt);
}

TEST(Doctor, ProcLimitsMemlock) {
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max locked memory         8388608              unlimited            bytes     \n";
  const auto parsed = parse_proc_limits_memlock(limits);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->soft, std::optional<std::uint64_t>(8388608));
  EXPECT_EQ(parsed->hard, std::nullopt);
  EXPECT_FALSE(parse_proc_limits_memlock("Max locked memory         lots bytes\n"));
  EXPECT_FALSE(parse_proc_limits_memlock(""));
}

TEST(Doctor, LimitsConfMemlockLines) {
  const auto grants = parse_limits_memlock(
      "# @kvm hard memlock 1\n@kvm hard memlock unlimited # vfio\n*  soft nofile 1024\nbob - "
      "memlock 4194304\nbroken memlock\n");
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_EQ(grants[0].domain, "@kvm");
  EXPECT_EQ(grants[0].type, "hard");
  EXPECT_EQ(grants[0].value, "unlimited");
  EXPECT_EQ(grants[1].domain, "bob");
  EXPECT_EQ(grants[1].type, "-");
  EXPECT_EQ(grants[1].value, "4194304");
}

std::string config_with_express(std::uint32_t devcap) {
  std::string config(256, '\0');
  config[0x06] = 0x10;
  config[0x34] = 0x40;
  config[0x40] = 0x01;  // power management, next 0x60
  config[0x41] = 0x60;
  config[0x60] = 0x10;  // PCI Express
  for (int i = 0; i < 4; ++i) config[0x64 + i] = static_cast<char>(devcap >> (8 * i) & 0xff);
  return config;
}

TEST(Doctor, FlrFromTheExpressCapability) {
  EXPECT_EQ(pcie_flr_capable(config_with_express(1u << 28 | 1)), true);
  EXPECT_EQ(pcie_flr_capable(config_with_express(1)), false);
  std::string no_list = config_with_express(1u << 28);
  no_list[0x06] = 0;
  EXPECT_EQ(pcie_flr_capable(no_list), std::nullopt);
  EXPECT_EQ(pcie_flr_capable("short"), std::nullopt);
  std::string loop = config_with_express(0);
  loop[0x60] = 0x05;  // no express capability, and a list that points at itself
  loop[0x61] = 0x60;
  EXPECT_EQ(pcie_flr_capable(loop), std::nullopt);
}

TEST(Doctor, FormatBytes) {
  EXPECT_EQ(format_bytes(8u << 20), "8 MiB");
  EXPECT_EQ(format_bytes(65536), "64 KiB");
  EXPECT_EQ(format_bytes(1000), "1000 bytes");
  EXPECT_EQ(format_bytes(std::nullopt), "unlimited");
}

TEST(Doctor, TextAndJsonAndWorst) {
  const std::vector<DoctorCheck> checks{{Verdict::ok, "a", "fine", "unused"},
                                        {Verdict::warn, "b", "meh", "do x"},
                                        {Verdict::fail, "c", "bad", ""}};
  EXPECT_EQ(format_doctor(checks),
            "OK    a: fine\n"
            "WARN  b: meh\n"
            "      fix: do x\n"
            "FAIL  c: bad\n");
  EXPECT_EQ(worst_verdict(checks), Verdict::fail);
  EXPECT_EQ(worst_verdict({}), Verdict::ok);
  EXPECT_EQ(
      doctor_to_json({checks[1]}).dump(),
      R"({"checks":[{"detail":"meh","fix":"do x","name":"b","verdict":"WARN"}],"result":"WARN","schema":1})");
}

}  // namespace
}  // namespace pcipass::core
