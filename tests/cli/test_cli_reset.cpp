// How the kernel can reset each device between guests (sysfs reset_method):
// shown in list --json, groups, the Kconfig help, and a plan note for a card
// without one (the simulated workstation's GPU and its HDMI audio share a
// bus and have no FLR: nothing can reset them).

#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pcipass::test {
namespace {

std::vector<std::string> on_workstation(std::vector<std::string> args) {
  args.insert(args.begin(), {"--sysfs-root", (sim_host("workstation") / "sys").string()});
  return args;
}

TEST(CliReset, ListShowsEachDevicesResetMethods) {
  const auto r = run_pcipass(on_workstation({"--json", "list"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> reset;
  const auto doc = nlohmann::json::parse(r.out);
  for (const auto& d : doc["devices"]) reset[d["address"].get<std::string>()] = d["reset_methods"];
  EXPECT_EQ(reset["0000:02:00.0"], nlohmann::json({"flr", "bus"}));  // FLR, alone below its port
  EXPECT_EQ(reset["0000:2d:00.0"], nlohmann::json::array());         // none
  EXPECT_TRUE(reset["0000:00:01.1"].is_null());                      // a bridge: not asked
  // lspci text cannot tell.
  const auto lspci = run_pcipass({"--lspci", "-", "--json", "list"},
                                 lspci_text(sim_host("workstation"), "-Dvmmmnnk"));
  ASSERT_EQ(lspci.exit_code, 0) << lspci.err;
  const auto from_lspci = nlohmann::json::parse(lspci.out);
  for (const auto& d : from_lspci["devices"]) {
    EXPECT_TRUE(d["reset_methods"].is_null()) << d["address"];
  }
}

TEST(CliReset, GroupsKconfigAndPlanSayWhatNoResetMeans) {
  const auto groups = run_pcipass(on_workstation({"groups"}));
  ASSERT_EQ(groups.exit_code, 0) << groups.err;
  EXPECT_NE(groups.out.find("  note: 0000:2d:00.1 has no reset the kernel can use: state stays"),
            std::string::npos)
      << groups.out;
  EXPECT_EQ(groups.out.find("note: 0000:02:00.0 has no reset"), std::string::npos);

  const auto kconfig = run_pcipass(on_workstation({"kconfig", "--include-host-devices"}));
  ASSERT_EQ(kconfig.exit_code, 0) << kconfig.err;
  EXPECT_NE(kconfig.out.find("\t  Reset:     flr bus\n"), std::string::npos);
  EXPECT_NE(kconfig.out.find("\t  Reset:     none: it keeps its state from one guest to the next "
                             "(pcipass doctor)\n"),
            std::string::npos);

  const auto plan = run_pcipass(on_workstation({"plan", "--guests", "lab", "02:00.0"}));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(plan.out.find("no reset"), std::string::npos) << plan.out;
}

}  // namespace
}  // namespace pcipass::test
