// `pcipass kconfig` against the real Kconfig tools: the static menu plus the
// generated file parse in kconfig-frontends' kconfig-conf and in kconfiglib
// on every simulated host, a defconfig fragment selects devices, and the
// .config they write reads back through pcipass. Device strings that try
// Kconfig macros, environment references and shell substitutions run
// nothing. The example kdevops-style tree is driven through make.

#include "support/sim_host.hpp"

#include <pcipass/core/dot_config.hpp>
#include <pcipass/core/kconfig_writer.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace pcipass::test {
namespace {
namespace fs = std::filesystem;

constexpr const char* k_python = "/usr/bin/python3";  // Debian's, where python3-kconfiglib lives

// Loads Kconfig, applies a defconfig fragment the way `kconfig-conf
// --defconfig` does, writes the .config and, when asked, every symbol's
// prompt, value and help as JSON.
constexpr const char* k_kconfiglib_script = R"(
import json, sys, kconfiglib
kconf = kconfiglib.Kconfig(sys.argv[1])
kconf.load_config(sys.argv[2])
kconf.write_config(sys.argv[3])
if len(sys.argv) > 4:
    out = {}
    for sym in kconf.unique_defined_syms:
        node = sym.nodes[0]
        out[sym.name] = {"prompt": node.prompt[0] if node.prompt else None,
                         "value": sym.str_value, "help": node.help}
    with open(sys.argv[4], "w") as f:
        json.dump(out, f)
)";

constexpr const char* k_top_kconfig =
    "mainmenu \"pcipass test\"\n\n"
    "config KDEVOPS_HOSTS_PREFIX\n\tstring \"The hostname prefix to use for nodes\"\n"
    "\tdefault \"kdevops\"\n\n"
    "source \"Kconfig.passthrough\"\n";

// The environment the Kconfig tools run in: a hostile string that got
// expanded would show these values.
const std::vector<std::string> k_tool_env = {"FOO=EXPANDED-FOO", "HOME=/EXPANDED-HOME"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool have_kconfig_conf() {
  return run_command({"kconfig-conf", "--help"}).exit_code != 127;
}
bool have_kconfiglib() {
  return run_command({k_python, "-c", "import kconfiglib"}).exit_code == 0;
}

// The reason to skip when a Kconfig tool is missing, or "".
std::string missing_tools() {
  std::string missing;
  if (!have_kconfig_conf()) missing += " kconfig-conf (apt install kconfig-frontends)";
  if (!have_kconfiglib())
    missing += " kconfiglib for " + std::string(k_python) + " (apt install python3-kconfiglib)";
  return missing;
}

#define SKIP_WITHOUT_KCONFIG_TOOLS()                                           \
  do {                                                                         \
    const std::string missing = missing_tools();                               \
    if (!missing.empty()) GTEST_SKIP() << "missing Kconfig tools:" << missing; \
  } while (false)

CommandResult in_dir(const fs::path& dir, std::vector<std::string> argv) {
  std::vector<std::string> full = {"env", "-C", dir.string()};
  full.insert(full.end(), k_tool_env.begin(), k_tool_env.end());
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full);
}

// A folder holding a top-level Kconfig, the static menu and the generated
// file for a host.
struct KconfigTree {
  TempDir dir;
  CommandResult generated;

  explicit KconfigTree(const std::vector<std::string>& pcipass_args) {
    write_file(dir.path() / "Kconfig", k_top_kconfig);
    const CommandResult menu =
        run_pcipass({"kconfig", "--menu", "-o", (dir.path() / "Kconfig.passthrough").string()});
    EXPECT_EQ(menu.exit_code, 0) << menu.err;
    std::vector<std::string> args = pcipass_args;
    args.insert(args.end(), {"-o", (dir.path() / core::k_generated_kconfig_name).string()});
    generated = run_pcipass(args);
    EXPECT_EQ(generated.exit_code, 0) << generated.err;
  }

  // Runs kconfig-conf --defconfig with `fragment`; returns the .config.
  std::string conf(const std::string& fragment) const {
    write_file(dir.path() / "fragment", fragment);
    const CommandResult r = in_dir(dir.path(), {"kconfig-conf", "--defconfig=fragment", "Kconfig"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
    return read_file(dir.path() / ".config");
  }

  // Runs kconfiglib with `fragment`; returns the .config and fills `symbols`.
  std::string kconfiglib(const std::string& fragment, nlohmann::json* symbols = nullptr) const {
    write_file(dir.path() / "fragment", fragment);
    std::vector<std::string> argv = {k_python,  "-c",       k_kconfiglib_script,
                                     "Kconfig", "fragment", ".config.kconfiglib"};
    if (symbols != nullptr) argv.push_back("symbols.json");
    const CommandResult r = in_dir(dir.path(), argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.err, "");
    if (symbols != nullptr)
      *symbols = nlohmann::json::parse(read_file(dir.path() / "symbols.json"));
    return read_file(dir.path() / ".config.kconfiglib");
  }
};

// The CONFIG_ lines of a .config, without the tools' own comments.
std::set<std::string> assignments(const std::string& config) {
  std::set<std::string> out;
  std::istringstream in(config);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("CONFIG_") || line.starts_with("# CONFIG_")) out.insert(line);
  }
  return out;
}

core::PassthroughChoices choices_of(const std::string& config) {
  auto parsed = core::DotConfig::parse(config);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  auto choices = core::read_passthrough_choices(*parsed);
  EXPECT_TRUE(choices.has_value()) << choices.error().message;
  return std::move(choices).value_or_throw();
}

struct Candidate {
  std::string address;
  std::size_t number = 0;
  unsigned group = 0;
  std::string ids;
  std::string human_name;
  bool host_used = false;
};

// The devices the generated file should offer, worked out from `pcipass
// list --json` rather than from the writer: endpoints with a group, in
// address order, without those the host uses itself or through their group;
// numbered as kdevops numbers them, those it skips after its highest.
std::vector<Candidate> expected_candidates(const std::vector<std::string>& source_args,
                                           bool include_host_devices, const fs::path& root) {
  const std::map<std::string, std::size_t> kdevops = kdevops_numbers(lspci_text(root));
  std::size_t next = kdevops.size() + 1;
  std::vector<std::string> args = source_args;
  args.insert(args.end(), {"list", "--json"});
  const CommandResult r = run_pcipass(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  std::set<unsigned> host_groups;
  for (const auto& d : doc["devices"]) {
    if (d["status"] == "host-in-use" && !d["iommu_group"].is_null()) {
      host_groups.insert(d["iommu_group"].get<unsigned>());
    }
  }
  std::vector<Candidate> out;
  for (const auto& d : doc["devices"]) {
    if (d["kind"] == "bridge" || d["kind"] == "host-bridge" || d["iommu_group"].is_null()) continue;
    Candidate c;
    c.address = d["address"];
    c.group = d["iommu_group"];
    c.host_used = d["status"] == "host-in-use" || host_groups.contains(c.group);
    if (c.host_used && !include_host_devices) continue;
    if (!d["vendor_id"].is_null()) {
      c.ids = d["vendor_id"].get<std::string>().substr(2) + ":" +
              d["device_id"].get<std::string>().substr(2);
    }
    c.human_name = d["human_name"];
    const auto it = kdevops.find(c.address);
    c.number = it != kdevops.end() ? it->second : next++;
    out.push_back(c);
  }
  return out;
}

std::string ids_of(const core::SelectedDevice& d) {
  if (!d.vendor_id || !d.device_id) return {};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%04x", *d.vendor_id, *d.device_id);
  return buf;
}

std::string symbol(std::size_t n) {
  return core::passthrough_symbol(n);
}

// The parameter is a simulated host's name; the hostile one is read with its
// own pci.ids and with --include-host-devices, so every hostile string shows.
class KconfigToolsOnHost : public ::testing::TestWithParam<std::string> {};

// On each host: pcipass's file and the static menu parse in both tools; the
// first and last candidates selected with technique `each` come back from
// both .config files with the right address, group, ids and guest (the
// first given one, the last the KDEVOPS_HOSTS_PREFIX default).
TEST_P(KconfigToolsOnHost, BothToolsSelectDevicesAndPcipassReadsThemBack) {
  SKIP_WITHOUT_KCONFIG_TOOLS();
  const auto started = std::chrono::steady_clock::now();
  const std::string& host = GetParam();
  const bool hostile = host == "hostile";
  const fs::path root = sim_host(host);
  std::vector<std::string> source = {"--sysfs-root", (root / "sys").string()};
  if (hostile) source.insert(source.end(), {"--pci-ids", (root / "pci.ids").string()});
  const std::vector<Candidate> expected = expected_candidates(source, hostile, root);
  std::size_t highest = 0;
  for (const Candidate& c : expected) highest = std::max(highest, c.number);
  std::vector<std::string> args = source;
  args.push_back("kconfig");
  if (hostile) args.push_back("--include-host-devices");
  const fs::path pwned = "/tmp/pwned";  // what the hostile host's $(shell,...) would touch
  std::error_code ignored;
  fs::remove(pwned, ignored);

  const KconfigTree tree(args);
  std::string fragment = "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n";
  if (expected.empty()) {
    fragment += "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST=y\n";
  } else {
    fragment += "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n";
    const std::size_t first = expected.front().number;
    fragment += "CONFIG_" + symbol(first) + "=y\nCONFIG_" + symbol(first) +
                "_TARGET_GUEST=\"guest-one\"\n";
    fragment += "CONFIG_" + symbol(expected.back().number) + "=y\n";
  }
  nlohmann::json symbols;
  const std::string by_conf = tree.conf(fragment);
  const std::string by_kconfiglib = tree.kconfiglib(fragment, hostile ? &symbols : nullptr);
  EXPECT_FALSE(fs::exists(pwned)) << "a device string ran a command";
  EXPECT_EQ(assignments(by_conf), assignments(by_kconfiglib));
  EXPECT_NE(by_conf.find("CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NUM_DEVICES=\"" +
                         std::to_string(highest) + "\"\n"),
            std::string::npos);

  for (const std::string& config : {by_conf, by_kconfiglib}) {
    const core::PassthroughChoices choices = choices_of(config);
    if (expected.empty()) {
      EXPECT_FALSE(choices.enabled) << "no candidates: the option must stay hidden";
      EXPECT_EQ(config.find("CONFIG_HAVE_LIBVIRT_PCIE_PASSTHROUGH=y"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(choices.enabled);
    EXPECT_EQ(choices.technique, core::PassthroughTechnique::each);
    ASSERT_EQ(choices.devices.size(), expected.size() == 1 ? 1u : 2u);
    const core::SelectedDevice& first = choices.devices.front();
    EXPECT_EQ(first.number, expected.front().number);
    EXPECT_EQ(first.address.to_string(), expected.front().address);
    EXPECT_EQ(first.iommu_group, expected.front().group);
    EXPECT_EQ(ids_of(first), expected.front().ids);
    EXPECT_EQ(first.target_guest, "guest-one");
    const core::SelectedDevice& last = choices.devices.back();
    EXPECT_EQ(last.number, expected.back().number);
    EXPECT_EQ(last.address.to_string(), expected.back().address);
    EXPECT_EQ(last.iommu_group, expected.back().group);
    if (expected.size() > 1) {
      EXPECT_EQ(last.target_guest, "kdevops");
    }
  }

  // What each tool shows a person is the device's sanitized text, whole.
  if (hostile) {
    ASSERT_FALSE(expected.empty());
    for (const Candidate& c : expected) {
      const std::size_t n = c.number;
      const std::string warning = !c.host_used
                                      ? ""
                                      : (symbols[symbol(n)]["help"].get<std::string>().find(
                                             "WARNING: the host itself") != std::string::npos
                                             ? "WARNING used by the host - "
                                             : "WARNING group used by the host - ");
      // The prompt is kdevops' name (its own rules, quotes dropped); the
      // help shows pcipass's human name whole.
      const std::string prompt = symbols[symbol(n)]["prompt"];
      EXPECT_TRUE(prompt.starts_with(c.address + " IOMMU group " + std::to_string(c.group) +
                                     " - " + warning))
          << prompt;
      EXPECT_EQ(prompt.find('"'), std::string::npos) << prompt;
      EXPECT_EQ(symbols[symbol(n) + "_NAME"]["value"], prompt);
      EXPECT_NE(symbols[symbol(n)]["help"].get<std::string>().find(
                    "\nKnown as:  " + core::kconfig_safe_text(c.human_name) + "\n"),
                std::string::npos)
          << symbols[symbol(n)]["help"];
      EXPECT_EQ(symbols[symbol(n) + "_PCI_ID"]["value"], c.address);
      EXPECT_TRUE(symbols[symbol(n)]["help"].get<std::string>().starts_with(
          "Enabling this will PCI-E passthrough this device onto the\ntarget guest.\n"));
    }
    // 11 per device (12 with serials: _IDENTITY), 9 static, NUM_DEVICES and HIGHEST_NUMBER
    std::size_t with_serials = 0;
    for (const Candidate& c : expected) with_serials += symbols.contains(symbol(c.number) + "_IDENTITY") ? 1 : 0;
    EXPECT_EQ(symbols.size(), expected.size() * 11 + with_serials + 10);
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[ TIMING   ] " << host << ": " << expected.size() << " candidates, " << seconds
            << " s\n";
}

INSTANTIATE_TEST_SUITE_P(SimulatedHosts, KconfigToolsOnHost,
                         ::testing::Values("workstation", "server", "laptop", "noiommu", "hostile"),
                         [](const ::testing::TestParamInfo<std::string>& host) {
                           return host.param;
                         });

// Kconfig macros, environment references, shell substitutions, quotes and
// backslashes in device names: after kconfig-conf, kconfiglib (which runs
// $(shell,...) and expands $VAR in strings), `source .config` in bash and
// `include .config` in make, nothing ran and every value is the fullwidth
// text pcipass wrote.
TEST(KconfigTools, MacrosAndSubstitutionsInDeviceNamesRunNothing) {
  SKIP_WITHOUT_KCONFIG_TOOLS();
  TempDir work;
  const std::string marker = (work.path() / "MARKER").string();
  const std::string lspci =
      "Slot:\t0000:41:00.0\n"
      "Class:\tNon-Volatile memory controller\n"
      "Vendor:\tEvil $(shell,touch " +
      marker +
      ") Corp\n"
      "Device:\tDrive \"X\" \\ $(FOO) ${FOO} $FOO `touch " +
      marker +
      "` \\\n"
      "SDevice:\tSub \"X\" \\ $(FOO) ${FOO} $FOO `touch " +
      marker + "` $(shell,touch " + marker +
      ") \\\n"
      "IOMMUGroup:\t12\n";
  write_file(work.path() / "lspci.txt", lspci);
  // lspci text is not this machine's: host usage unknown, offered on request.
  const KconfigTree tree({"--sysfs-root", (work.path() / "none/sys").string(), "--lspci",
                          (work.path() / "lspci.txt").string(), "kconfig",
                          "--include-host-devices"});

  const std::string fw_dollar = "\xef\xbc\x84";
  const std::string fw_quote = "\xef\xbc\x82";
  const std::string fw_backslash = "\xef\xbc\xbc";
  const std::string fw_grave = "\xef\xbd\x80";
  const std::string device = "Drive " + fw_quote + "X" + fw_quote + " " + fw_backslash + " " +
                             fw_dollar + "(FOO) " + fw_dollar + "{FOO} " + fw_dollar + "FOO " +
                             fw_grave + "touch " + marker + fw_grave + " " + fw_backslash;
  const std::string vendor = "Evil " + fw_dollar + "(shell,touch " + marker + ") Corp";
  // The subsystem's name is kdevops' name of the device: quotes dropped as
  // kdevops drops them, everything else made inert.
  const std::string inert = fw_backslash + " " + fw_dollar + "(FOO) " + fw_dollar + "{FOO} " +
                            fw_dollar + "FOO " + fw_grave + "touch " + marker + fw_grave + " " +
                            fw_dollar + "(shell,touch " + marker + ") " + fw_backslash;
  const std::string sdevice = "Sub X " + inert;
  const std::string subsystem = "Sub " + fw_quote + "X" + fw_quote + " " + inert;
  const std::string name = "0000:41:00.0 IOMMU group 12 - WARNING host usage unknown - " + sdevice;

  const std::string fragment =
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
      "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n"
      "CONFIG_" +
      symbol(1) + "=y\n";
  nlohmann::json symbols;
  const std::string by_conf = tree.conf(fragment);
  const std::string by_kconfiglib = tree.kconfiglib(fragment, &symbols);

  EXPECT_EQ(symbols[symbol(1)]["prompt"], name);
  EXPECT_EQ(symbols[symbol(1) + "_TARGET_GUEST"]["prompt"], "Target guest to offload " + sdevice);
  EXPECT_EQ(symbols[symbol(1) + "_SDEVICE"]["value"], sdevice);
  const std::string help = symbols[symbol(1)]["help"];
  EXPECT_NE(help.find("\nVendor:    " + vendor + "\nDevice:    " + device +
                      "\nSubsystem: " + subsystem + "\nDriver:    none\n"),
            std::string::npos)
      << help;
  for (const std::string& config : {by_conf, by_kconfiglib}) {
    EXPECT_NE(config.find("CONFIG_" + symbol(1) + "_NAME=\"" + name + "\"\n"), std::string::npos)
        << config;
    EXPECT_EQ(config.find("EXPANDED"), std::string::npos) << config;
    EXPECT_EQ(choices_of(config).devices.at(0).name, name);
  }

  // kdevops' scripts `source .config` in bash and `include .config` in make.
  const CommandResult bash =
      in_dir(tree.dir.path(),
             {"bash", "-c", "source ./.config && printf '%s' \"$CONFIG_" + symbol(1) + "_NAME\""});
  EXPECT_EQ(bash.exit_code, 0) << bash.err;
  EXPECT_EQ(bash.out, name);
  write_file(tree.dir.path() / "show.mk",
             "include .config\nshow:\n\t@printf '%s' '$(CONFIG_" + symbol(1) + "_NAME)'\n");
  const CommandResult make = in_dir(tree.dir.path(), {"make", "-s", "-f", "show.mk", "show"});
  if (make.exit_code != 127) {
    EXPECT_EQ(make.exit_code, 0) << make.err;
    EXPECT_EQ(make.out, "\"" + name + "\"");
  }
  EXPECT_FALSE(fs::exists(marker)) << "a device string ran a command";
}

// A hostile help line cannot end its help block: the tools see exactly the
// entries pcipass wrote, 11 symbols per device plus the static ones.
TEST(KconfigTools, HostileHostKeepsItsEntryCount) {
  SKIP_WITHOUT_KCONFIG_TOOLS();
  const fs::path root = sim_host("hostile");
  const KconfigTree tree({"--sysfs-root", (root / "sys").string(), "--pci-ids",
                          (root / "pci.ids").string(), "kconfig", "--include-host-devices"});
  nlohmann::json symbols;
  tree.kconfiglib("", &symbols);
  const std::string text = read_file(tree.dir.path() / core::k_generated_kconfig_name);
  std::size_t configs = 0;
  for (std::size_t at = text.find("\nconfig "); at != std::string::npos;
       at = text.find("\nconfig ", at + 1)) {
    ++configs;
  }
  // Every entry written is a symbol and no more; both files define NUM_DEVICES.
  EXPECT_EQ(symbols.size(), configs + 8);
  for (const auto& [name, sym] : symbols.items()) {
    EXPECT_TRUE(name == "KDEVOPS_HOSTS_PREFIX" || name.starts_with("KDEVOPS_") ||
                name == "HAVE_LIBVIRT_PCIE_PASSTHROUGH")
        << name;
  }
}

TEST(CliKconfig, MenuPrintsTheRepositoryFileByteForByte) {
  const CommandResult r = run_pcipass({"kconfig", "--menu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_file(source_path("kconfig/Kconfig.passthrough")));
  EXPECT_EQ(r.err, "");
}

TEST(CliKconfig, UnchangedHostGivesByteIdenticalOutputOnStdoutAndInAFile) {
  const std::string sys = (sim_host("workstation") / "sys").string();
  const CommandResult first = run_pcipass({"--sysfs-root", sys, "kconfig"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err, "");
  EXPECT_EQ(run_pcipass({"--sysfs-root", sys, "kconfig"}).out, first.out);
  TempDir dir;
  const fs::path out = dir.path() / "Kconfig.generated";
  const CommandResult to_file = run_pcipass({"--sysfs-root", sys, "kconfig", "-o", out.string()});
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(to_file.out, "wrote " + out.string() +
                             ": 3 passthrough candidates; 4 endpoints the host uses left out\n");
  EXPECT_EQ(read_file(out), first.out);
  EXPECT_EQ((fs::status(out).permissions() & fs::perms::all),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST(CliKconfig, WorkstationOffersTheFreeDevicesOnly) {
  const std::string sys = (sim_host("workstation") / "sys").string();
  const CommandResult r = run_pcipass({"--sysfs-root", sys, "kconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config " + symbol(7) +
                       "\n\tbool \"0000:02:00.0 IOMMU group 9 - "
                       "/dev/nvme1 - WZS4C8T4TDSP303 with FW R1110021\"\n"),
            std::string::npos);
  EXPECT_EQ(r.out.find("0000:01:00.0 IOMMU group 8"), std::string::npos);   // the root disk
  EXPECT_EQ(r.out.find("0000:2d:00.1 IOMMU group 15"), std::string::npos);  // beside the boot GPU
  const CommandResult all = run_pcipass({"--sysfs-root", sys, "kconfig", "--include-host-devices"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.err,
            "pcipass: warning: offering 4 devices that the host uses itself or through their "
            "IOMMU group; their prompts say so\n");
  EXPECT_NE(
      all.out.find("\tbool \"0000:2d:00.1 IOMMU group 15 - WARNING group used by the host - "),
      std::string::npos);
}

TEST(CliKconfig, NoIommuWarnsAndOffersNothing) {
  const CommandResult r =
      run_pcipass({"--sysfs-root", (sim_host("noiommu") / "sys").string(), "kconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: warning: this host has no IOMMU groups: the IOMMU is missing or disabled. "
            "Enable VT-d (Intel) or AMD-Vi (AMD) in the firmware and boot with intel_iommu=on or "
            "amd_iommu=on (plus iommu=pt) on the kernel command line; the generated Kconfig "
            "offers no devices\n");
  EXPECT_NE(r.out.find("\ncomment \"No PCI-E passthrough candidates: this host has no IOMMU "
                       "groups."),
            std::string::npos);
  EXPECT_EQ(r.out.find("\nconfig " + symbol(1)), std::string::npos);
}

TEST(CliKconfig, LaptopWithEverythingInTheHostsGroupWarns) {
  const CommandResult r =
      run_pcipass({"--sysfs-root", (sim_host("laptop") / "sys").string(), "kconfig"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.starts_with("pcipass: warning: no passthrough candidates: the host uses all "))
      << r.err;
  EXPECT_TRUE(r.err.ends_with(
      " or a device in their IOMMU group (--include-host-devices offers them anyway)\n"))
      << r.err;
}

TEST(CliKconfig, FailureLeavesThePreviousFileAsItWas) {
  TempDir dir;
  const fs::path out = dir.path() / "Kconfig.passthrough_libvirt.generated";
  write_file(out, "previous content\n");
  const CommandResult r =
      run_pcipass({"--sysfs-root", "/nonexistent/sys", "kconfig", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err,
            "pcipass: error: cannot list PCI devices: listing /nonexistent/sys/bus/pci/devices: No "
            "such file or directory (is this a sysfs root? pass --sysfs-root DIR)\n");
  EXPECT_EQ(read_file(out), "previous content\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  const CommandResult no_dir = run_pcipass({"kconfig", "--menu", "-o", "/nonexistent/dir/K"});
  EXPECT_EQ(no_dir.exit_code, 4);
  EXPECT_EQ(no_dir.err, "pcipass: error: writing /nonexistent/dir/K: No such file or directory\n");
}

constexpr const char* k_each_config =
    "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n"
    "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_EACH=y\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003=y\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003_TARGET_GUEST=\"kdevops-zns\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003_PCI_ID=\"0000:02:00.0\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003_NAME=\"0000:02:00.0 IOMMU group 9 - ZNS\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003_IOMMUGROUP=\"9\"\n"
    "CONFIG_KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003_VENDOR_DEVICE=\"1b96:2600\"\n";

TEST(CliKconfig, ReadShowsWhatAConfigSelects) {
  const CommandResult r = run_pcipass({"kconfig", "--read", "-"}, k_each_config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "PCI-E passthrough: enabled, technique each, 1 device selected\n"
      "NUMBER  ADDRESS       GROUP  IDS        TARGET GUEST  NAME\n"
      "0003    0000:02:00.0  9      1b96:2600  kdevops-zns   0000:02:00.0 IOMMU group 9 - ZNS\n");
  const CommandResult off = run_pcipass({"kconfig", "--read", "-"}, "CONFIG_A=y\n");
  EXPECT_EQ(off.out,
            "PCI-E passthrough: disabled (CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is not set)\n");
}

TEST(CliKconfig, ReadJsonForPrograms) {
  const CommandResult r = run_pcipass({"kconfig", "--read", "-", "--json"}, k_each_config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], 1);
  EXPECT_EQ(doc["enabled"], true);
  EXPECT_EQ(doc["technique"], "each");
  EXPECT_TRUE(doc["target_hostname"].is_null());
  ASSERT_EQ(doc["devices"].size(), 1u);
  EXPECT_EQ(doc["devices"][0], nlohmann::json({{"number", 3},
                                               {"symbol", "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0003"},
                                               {"address", "0000:02:00.0"},
                                               {"iommu_group", 9},
                                               {"vendor_id", "0x1b96"},
                                               {"device_id", "0x2600"},
                                               {"name", "0000:02:00.0 IOMMU group 9 - ZNS"},
                                               {"identity", {{"nvme_serial", nullptr},
                                                             {"dsn", nullptr},
                                                             {"mac", nullptr},
                                                             {"vpd_serial", nullptr},
                                                             {"vf", nullptr},
                                                             {"slot", nullptr}}},
                                               {"target_guest", "kdevops-zns"}}));
}

TEST(CliKconfig, ReadErrorsAreBadInputWithTheLine) {
  const CommandResult bad =
      run_pcipass({"kconfig", "--read", "-"}, "CONFIG_A=y\nCONFIG_B=\"open\n");
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_EQ(bad.err, "pcipass: error: - line 2: CONFIG_B: unterminated string\n");
  EXPECT_EQ(bad.out, "");
  TempDir dir;
  const fs::path config = dir.path() / ".config";
  write_file(config, "CONFIG_KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y\n");
  const CommandResult no_type = run_pcipass({"kconfig", "--read", config.string()});
  EXPECT_EQ(no_type.exit_code, 3);
  EXPECT_EQ(no_type.err, "pcipass: error: " + config.string() +
                             " line 1: KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH is set but none of "
                             "KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_FIRST, _SPECIFIC, _EACH or "
                             "_ROUNDROBIN is\n");
  const CommandResult missing = run_pcipass({"kconfig", "--read", "/nonexistent/.config"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_EQ(missing.err,
            "pcipass: error: reading /nonexistent/.config: No such file or directory\n");
}

TEST(CliKconfig, ReadDoesNotMixWithGenerating) {
  const CommandResult r = run_pcipass({"kconfig", "--read", "x", "--menu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace pcipass::test
