// The numbers of the generated Kconfig through the command line: the first
// file numbers devices exactly as kdevops' generator does over the real
// `lspci -Dvmmm` of every simulated host; a kdevops .config keeps its
// device; hardware changes never re-point a number; a .config made with
// another numbering stops `kconfig` and `plan` before a wrong device can be
// chosen.

#include "support/sim_host.hpp"

#include <pcipass/core/kconfig_writer.hpp>

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace pcipass::test {
namespace {
namespace fs = std::filesystem;

std::string lspci_of(const std::string& host, const char* flags = "-Dvmmm") {
  return lspci_text(sim_host(host), flags);
}

// NUMBER -> address of every entry a generated file offers.
std::map<std::size_t, std::string> offered(const std::string& kconfig) {
  std::map<std::size_t, std::string> out;
  const std::string prefix = "config " + std::string(core::k_passthrough_prefix) + "_";
  std::size_t at = 0;
  while ((at = kconfig.find(prefix, at)) != std::string::npos) {
    at += prefix.size();
    const std::size_t end = kconfig.find_first_not_of("0123456789", at);
    if (kconfig.compare(end, 19, "_PCI_ID\n\tstring\n\tde") != 0) continue;
    const std::size_t quote = kconfig.find('"', end) + 1;
    out[std::stoul(kconfig.substr(at, end - at))] = kconfig.substr(quote, 12);
  }
  return out;
}

std::string symbol(std::size_t n) {
  return core::passthrough_symbol(n);
}

class FirstNumbersOnHost : public ::testing::TestWithParam<std::string> {};

TEST_P(FirstNumbersOnHost, AreKdevopsNumbersForEveryDeviceWithASubsystem) {
  const std::string host = GetParam();
  const auto kdevops = kdevops_numbers(lspci_of(host));
  const CommandResult r = run_pcipass(
      {"--sysfs-root", (sim_host(host) / "sys").string(), "kconfig", "--include-host-devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto numbers = offered(r.out);
  std::size_t highest = 0;
  for (const auto& [address, number] : kdevops) highest = std::max(highest, number);
  std::size_t checked = 0;
  for (const auto& [number, address] : numbers) {
    const auto it = kdevops.find(address);
    if (it != kdevops.end()) {
      EXPECT_EQ(number, it->second) << address;
      ++checked;
    } else {
      EXPECT_GT(number, highest) << address << " has no subsystem: numbered after kdevops'";
    }
  }
  if (host != "noiommu") {
    EXPECT_GT(checked, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(SimulatedHosts, FirstNumbersOnHost,
                         ::testing::Values("workstation", "laptop", "noiommu", "btrfs", "zfs", "twins"),
                         [](const auto& param_info) { return param_info.param; });

struct Lab {
  TempDir dir;
  fs::path generated() const { return dir.path() / core::k_generated_kconfig_name; }
  fs::path config() const { return dir.path() / ".config"; }
  fs::path lspci() const { return dir.path() / "lspci.txt"; }
  CommandResult kconfig(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--lspci",   lspci().string(), "kconfig",
                                     "--include-host-devices", "-o", generated().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pcipass(args);
  }
  CommandResult plan() const {
    return run_pcipass({"--lspci", lspci().string(), "plan", "--config", config().string(),
                        "--guests", "lab", "--force"});
  }
};

// The SDevice line lspci shows for `address`.
std::string sdevice_of(const std::string& address) {
  const std::string lspci = lspci_of("workstation");
  const std::size_t at = lspci.find("Slot:\t" + address + "\n");
  const std::size_t line = lspci.find("\nSDevice:\t", at) + 10;
  return lspci.substr(line, lspci.find('\n', line) - line);
}

// The .config kdevops writes for a selected device: the selected bool and
// the entry's strings (kdevops' have no ids: _SDEVICE tells devices apart).
std::string dot_config(std::size_t number, const std::string& address) {
  return "CONFIG_KDEVOPS_HOSTS_PREFIX=\"lab\"\n"
         "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
         "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST=y\n"
         "CONFIG_" + symbol(number) + "=y\n"
         "CONFIG_" + symbol(number) + "_PCI_ID=\"" + address + "\"\n"
         "CONFIG_" + symbol(number) + "_SDEVICE=\"" + sdevice_of(address) + "\"\n";
}

// Drops the record of `address` from lspci text.
std::string without(const std::string& lspci, const std::string& address) {
  const std::size_t at = lspci.find("Slot:\t" + address + "\n");
  if (at == std::string::npos) return lspci;
  const std::size_t end = lspci.find("\n\n", at);
  return lspci.substr(0, at) + lspci.substr(end + 2);
}

TEST(CliKconfigNumbers, AKdevopsDotConfigKeepsItsDeviceFromTheFirstRun) {
  Lab lab;
  // With ids (-nn), which plan needs to check the device before use.
  put_file(lab.lspci(), lspci_of("workstation", "-Dvmmmnn"));
  // kdevops numbered the ZNS drive 0007 on this host.
  ASSERT_EQ(kdevops_numbers(file_text(lab.lspci())).at("0000:02:00.0"), 7u);
  put_file(lab.config(), dot_config(7, "0000:02:00.0"));
  const CommandResult r = lab.kconfig();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(offered(file_text(lab.generated())).at(7), "0000:02:00.0");
  const CommandResult planned = lab.plan();
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  EXPECT_NE(planned.out.find("0000:02:00.0"), std::string::npos) << planned.out;
}

TEST(CliKconfigNumbers, HardwareChangesNeverRepointANumber) {
  Lab lab;
  const std::string before = lspci_of("workstation");
  put_file(lab.lspci(), before);
  ASSERT_EQ(lab.kconfig().exit_code, 0);
  const auto first = offered(file_text(lab.generated()));
  ASSERT_EQ(first.at(7), "0000:02:00.0");

  // The ZNS drive is pulled: every other device keeps its number, 0007 is
  // kept for it, and nothing else gets 0007.
  put_file(lab.lspci(), without(before, "0000:02:00.0"));
  CommandResult r = lab.kconfig();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string after_text = file_text(lab.generated());
  auto after = offered(after_text);
  EXPECT_FALSE(after.contains(7));
  for (const auto& [number, address] : first) {
    if (address != "0000:02:00.0") {
      EXPECT_EQ(after.at(number), address);
    }
  }
  EXPECT_NE(after_text.find("# number 0007 0000:02:00.0 - gone | " + sdevice_of("0000:02:00.0") +
                            "\n"),
            std::string::npos)
      << after_text;

  // A .config still selecting 0007 is told, and plan refuses it until the
  // user chooses again.
  put_file(lab.config(), dot_config(7, "0000:02:00.0"));
  r = lab.kconfig();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string zns = "0000:02:00.0 (" + sdevice_of("0000:02:00.0") + ")";
  EXPECT_NE(r.err.find("CONFIG_" + symbol(7) + " selected " + zns + ", which is gone"),
            std::string::npos)
      << r.err;
  const std::string config_before = file_text(lab.config());
  r = lab.plan();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pcipass: error: " + lab.config().string() + ": CONFIG_" + symbol(7) +
                       " selected " + zns + ", which is gone; run make menuconfig (or pcipass "
                       "kconfig) and choose again\n");
  EXPECT_EQ(file_text(lab.config()), config_before);

  // The drive comes back in another slot: a new number, never 0007.
  std::string moved = before;
  const std::string from = "Slot:\t0000:02:00.0\n";
  moved.replace(moved.find(from), from.size(), "Slot:\t0000:07:00.0\n");
  put_file(lab.lspci(), moved);
  fs::remove(lab.config());
  ASSERT_EQ(lab.kconfig().exit_code, 0);
  after = offered(file_text(lab.generated()));
  EXPECT_FALSE(after.contains(7));
  std::size_t highest = first.rbegin()->first;
  EXPECT_EQ(after.rbegin()->second, "0000:07:00.0");
  EXPECT_GT(after.rbegin()->first, highest);
}

TEST(CliKconfigNumbers, WithoutAPreviousFileTheDotConfigsNumbersAreKept) {
  Lab lab;
  put_file(lab.lspci(), lspci_of("workstation"));
  // Made with another numbering (pcipass's old one): 0002 is the ZNS drive.
  // A .config records every entry's _PCI_ID, so it is the record.
  put_file(lab.config(), dot_config(2, "0000:02:00.0"));
  const CommandResult r = lab.kconfig();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(offered(file_text(lab.generated())).at(2), "0000:02:00.0");
}

TEST(CliKconfigNumbers, ADotConfigOfAnotherNumberingThanThePreviousFileStopsKconfig) {
  Lab lab;
  put_file(lab.lspci(), lspci_of("workstation"));
  ASSERT_EQ(lab.kconfig().exit_code, 0);
  const std::string previous = file_text(lab.generated());
  // Made with another numbering: 0004 meant the ZNS drive there; the
  // previous file gives 0004 to the USB controller at 0000:00:14.0.
  put_file(lab.config(), dot_config(4, "0000:02:00.0"));
  const CommandResult r = lab.kconfig();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "pcipass: warning: host usage unknown: the devices come from lspci text, not "
                   "this machine's /sys; none is called free, acting on one needs --force (or pass "
                   "--host-usage FILE: pcipass list --json run on that host)\n"
                   "pcipass: error: " + lab.config().string() + ": CONFIG_" + symbol(4) +
                       " selected 0000:02:00.0 (" + sdevice_of("0000:02:00.0") +
                       "), but the new numbering gives that number to 0000:00:14.0 (" +
                       sdevice_of("0000:00:14.0") + "); 0000:02:00.0 is now " + symbol(7) +
                       "; nothing written (restore the generated file this .config was made "
                       "with, or move the .config away and choose again)\n");
  EXPECT_EQ(file_text(lab.generated()), previous);
  // plan holds the same .config against the file and refuses it too.
  const CommandResult planned = lab.plan();
  EXPECT_EQ(planned.exit_code, 3);
  EXPECT_NE(planned.err.find("but " + lab.generated().string() +
                             " gives that number to 0000:00:14.0"),
            std::string::npos)
      << planned.err;
}

TEST(CliKconfigNumbers, APreviousFileThatCannotBeReadIsBadInputAndStaysAsItWas) {
  Lab lab;
  put_file(lab.lspci(), lspci_of("workstation"));
  const std::string broken = "config " + symbol(3) + "_PCI_ID\n\tstring\n\tdefault \"nowhere\"\n";
  put_file(lab.generated(), broken);
  const CommandResult r = lab.kconfig();
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find(lab.generated().string() + " line 3: " + symbol(3) +
                       "_PCI_ID is not a PCI address"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(file_text(lab.generated()), broken);
}

}  // namespace
}  // namespace pcipass::test
