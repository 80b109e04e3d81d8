// Shell completion generated from the command-line definitions
// (`pcipass --completion bash|zsh|fish`), run in the real shells.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

namespace pcipass::test {
namespace {

namespace fs = std::filesystem;

bool have(const std::string& program) {
  return run_command({"sh", "-c", "command -v " + program}).exit_code == 0;
}

// What bash completes for the command line `words` (the last word is the
// one being completed), with the generated script loaded.
std::set<std::string> bash_complete(const fs::path& script, const std::vector<std::string>& words) {
  std::string array;
  for (const std::string& w : words) array += " '" + w + "'";
  const std::string program = "source '" + script.string() + "'\nCOMP_WORDS=(" + array +
                              ")\nCOMP_CWORD=" + std::to_string(words.size() - 1) +
                              "\n_pcipass\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
  const CommandResult r = run_command({"bash", "--norc", "-c", program});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

class Completion : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* shell : {"bash", "zsh", "fish"}) {
      const auto r = run_pcipass({"--completion", shell});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      put_file(dir.path() / shell, r.out);
    }
  }
  TempDir dir;
};

TEST_F(Completion, BashCompletesCommandsOptionsAndTheirValues) {
  if (!have("bash")) GTEST_SKIP() << "bash is missing";
  const fs::path script = dir.path() / "bash";
  EXPECT_EQ(bash_complete(script, {"pcipass", "l"}), (std::set<std::string>{"list"}));
  EXPECT_EQ(bash_complete(script, {"pcipass", "--sysfs-root", "/x", "-c", "test:///default", "bri"}),
            (std::set<std::string>{"bringup"}))
      << "global options and their values come before the command";
  EXPECT_EQ(bash_complete(script, {"pcipass", "list", "--js"}), (std::set<std::string>{"--json"}));
  EXPECT_EQ(bash_complete(script, {"pcipass", "bind", "--dry"}),
            (std::set<std::string>{"--dry-run"}));
  EXPECT_EQ(bash_complete(script, {"pcipass", "--source", "l"}),
            (std::set<std::string>{"libvirt", "lspci"}));
  EXPECT_EQ(bash_complete(script, {"pcipass", "plan", "--technique", ""}),
            (std::set<std::string>{"first", "specific", "each", "roundrobin"}));
  // A file option completes files.
  put_file(dir.path() / "guests.config", "");
  EXPECT_EQ(bash_complete(script, {"pcipass", "plan", "--config", (dir.path() / "guests.c").string()}),
            (std::set<std::string>{(dir.path() / "guests.config").string()}));

  // Devices: this machine's PCI addresses (read only).
  std::set<std::string> addresses;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/bus/pci/devices", ec))
    addresses.insert(entry.path().filename().string());
  if (addresses.empty()) GTEST_SKIP() << "no /sys/bus/pci/devices here";
  EXPECT_EQ(bash_complete(script, {"pcipass", "bind", ""}), addresses);
  const std::string first = *addresses.begin();
  const std::set<std::string> completed = bash_complete(script, {"pcipass", "groups", first});
  EXPECT_TRUE(completed.contains(first));
}

TEST_F(Completion, EveryCommandAndOptionOfHelpIsOffered) {
  if (!have("bash")) GTEST_SKIP() << "bash is missing";
  const fs::path script = dir.path() / "bash";
  const std::set<std::string> commands = bash_complete(script, {"pcipass", ""});
  EXPECT_GE(commands.size(), 15u);
  for (const std::string& command : commands) {
    const std::set<std::string> options = bash_complete(script, {"pcipass", command, "--"});
    for (const std::string& option : long_options_in_help(command))
      EXPECT_TRUE(options.contains(option)) << command << ": " << option;
  }
}

TEST_F(Completion, ZshLoadsItThroughBashcompinit) {
  if (!have("zsh")) GTEST_SKIP() << "zsh is missing (apt install zsh)";
  const auto r = run_command(
      {"zsh", "-f", "-c",
       "autoload -U compinit && compinit -u; source '" + (dir.path() / "zsh").string() +
           "' && whence -w _pcipass"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("_pcipass: function"), std::string::npos) << r.out;
}

TEST_F(Completion, FishCompletesCommandsAndOptions) {
  if (!have("fish")) GTEST_SKIP() << "fish is missing (apt install fish)";
  const std::string source = "source '" + (dir.path() / "fish").string() + "'; ";
  auto r = run_command({"fish", "--no-config", "-c", source + "complete -C 'pcipass lis'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("list\t")) << r.out;
  r = run_command({"fish", "--no-config", "-c", source + "complete -C 'pcipass list --js'"});
  EXPECT_TRUE(r.out.starts_with("--json\t")) << r.out;
  r = run_command({"fish", "--no-config", "-c", source + "complete -C 'pcipass --source lsp'"});
  EXPECT_TRUE(r.out.starts_with("lspci")) << r.out;
}

TEST(CompletionErrors, AnUnknownShellIsAUsageError) {
  const auto r = run_pcipass({"--completion", "tcsh"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "pcipass: error: --completion takes one shell: bash, zsh or fish\n");
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace pcipass::test
