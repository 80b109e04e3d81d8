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

std::string single_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// COMP_WORDS as bash builds them for `line`: split at blanks, and ':' and
// '=' (in COMP_WORDBREAKS) each a word of their own; a line ending in a
// blank completes an empty word.
std::vector<std::string> bash_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) words.push_back(word);
    word.clear();
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ') {
      flush();
    } else if (c == ':' || c == '=') {
      flush();
      std::string breaks(1, c);
      while (i + 1 < line.size() && (line[i + 1] == ':' || line[i + 1] == '=')) breaks += line[++i];
      words.push_back(breaks);
    } else {
      word += c;
    }
  }
  flush();
  if (line.ends_with(" ")) words.push_back("");
  return words;
}

const char* k_bash_completion = "/usr/share/bash-completion/bash_completion";

// What bash completes at the end of `line`, the generated script loaded
// after bash-completion; `prelude` runs before (to replace a helper).
std::set<std::string> bash_complete(const fs::path& script, const std::string& line,
                                    const std::string& prelude = "") {
  const std::vector<std::string> words = bash_words(line);
  std::string array;
  for (const std::string& w : words) array += " " + single_quoted(w);
  const std::string program = "source " + std::string(k_bash_completion) + "\nsource " +
                              single_quoted(script.string()) + "\n" + prelude +
                              "\nCOMP_LINE=" + single_quoted(line) +
                              "\nCOMP_POINT=${#COMP_LINE}\nCOMP_WORDS=(" + array +
                              ")\nCOMP_CWORD=" + std::to_string(words.size() - 1) +
                              "\n_pcipass_bash\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
  const CommandResult r = run_command({"bash", "--norc", "-c", program});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> out;
  std::istringstream lines(r.out);
  for (std::string reply; std::getline(lines, reply);) {
    if (!reply.empty()) out.insert(reply);
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

#define SKIP_WITHOUT_BASH_COMPLETION()                                                   \
  do {                                                                                   \
    if (!have("bash")) GTEST_SKIP() << "bash is missing";                                \
    if (!fs::exists(k_bash_completion))                                                  \
      GTEST_SKIP() << "bash-completion is missing (apt install bash-completion)";        \
  } while (false)

TEST_F(Completion, BashCompletesCommandsOptionsAndTheirValues) {
  SKIP_WITHOUT_BASH_COMPLETION();
  const fs::path script = dir.path() / "bash";
  EXPECT_EQ(bash_complete(script, "pcipass l"), (std::set<std::string>{"list"}));
  EXPECT_EQ(bash_complete(script, "pcipass --sysfs-root /x -c qemu:///system bri"),
            (std::set<std::string>{"bringup"}))
      << "global options and their values (a URI with ':') come before the command";
  EXPECT_EQ(bash_complete(script, "pcipass --sysfs-root=/x gro"), (std::set<std::string>{"groups"}));
  EXPECT_EQ(bash_complete(script, "pcipass list --js"), (std::set<std::string>{"--json"}));
  EXPECT_EQ(bash_complete(script, "pcipass bind --dry"), (std::set<std::string>{"--dry-run"}));
  EXPECT_EQ(bash_complete(script, "pcipass --source l"),
            (std::set<std::string>{"libvirt", "lspci"}));
  EXPECT_EQ(bash_complete(script, "pcipass plan --technique "),
            (std::set<std::string>{"first", "specific", "each", "roundrobin"}));
  EXPECT_EQ(bash_complete(script, "pcipass list --group "), (std::set<std::string>{}))
      << "a value nothing can be offered for: not commands, not devices";
  // File options complete files, folder options folders.
  put_file(dir.path() / "guests.config", "");
  fs::create_directory(dir.path() / "guests.d");
  EXPECT_EQ(bash_complete(script, "pcipass plan --config " + (dir.path() / "guests.").string()),
            (std::set<std::string>{(dir.path() / "guests.config").string(),
                                   (dir.path() / "guests.d").string()}));
  EXPECT_EQ(bash_complete(script, "pcipass bringup --xml-dir " + (dir.path() / "guests.").string()),
            (std::set<std::string>{(dir.path() / "guests.d").string()}));
}

TEST_F(Completion, BashCompletesThisMachinesAddressesAcrossTheirColons) {
  SKIP_WITHOUT_BASH_COMPLETION();
  const fs::path script = dir.path() / "bash";
  std::set<std::string> addresses;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/bus/pci/devices", ec))
    addresses.insert(entry.path().filename().string());
  if (addresses.empty()) GTEST_SKIP() << "no /sys/bus/pci/devices here (read only)";
  EXPECT_EQ(bash_complete(script, "pcipass bind "), addresses);
  // bash replaces only the part after the last ':' of the word.
  const std::string first = *addresses.begin();
  const std::string typed = first.substr(0, first.rfind(':') + 2);
  std::set<std::string> expected;
  for (const std::string& a : addresses) {
    if (a.starts_with(typed)) expected.insert(a.substr(typed.rfind(':') + 1));
  }
  EXPECT_EQ(bash_complete(script, "pcipass groups " + typed), expected) << typed;
}

TEST_F(Completion, AGuestsNameIsDataNeverRun) {
  SKIP_WITHOUT_BASH_COMPLETION();
  // Anyone who may define a guest chooses its name: completing it must
  // neither run nor expand it.
  const fs::path marker = dir.path() / "MARKER";
  const std::string prelude = "_pcipass_guests() { printf '%s\\n' 'lab' 'x$(touch " +
                              marker.string() + ")' 'y`touch " + marker.string() +
                              "`' '*' 'two words'; }";
  const std::set<std::string> replies = bash_complete(dir.path() / "bash", "pcipass attach ", prelude);
  EXPECT_FALSE(fs::exists(marker)) << "a guest's name ran a command";
  EXPECT_TRUE(replies.contains("lab"));
  EXPECT_TRUE(replies.contains("two\\ words")) << "quoted, one word";
  EXPECT_TRUE(replies.contains("\\*")) << "not a file pattern";
  EXPECT_EQ(replies.size(), 5u);
  EXPECT_EQ(bash_complete(dir.path() / "bash", "pcipass attach l", prelude),
            (std::set<std::string>{"lab"}));
}

TEST_F(Completion, EveryCommandAndOptionOfHelpIsOffered) {
  SKIP_WITHOUT_BASH_COMPLETION();
  const fs::path script = dir.path() / "bash";
  const std::set<std::string> commands = bash_complete(script, "pcipass ");
  EXPECT_GE(commands.size(), 15u);
  for (const std::string& command : commands) {
    const std::set<std::string> options = bash_complete(script, "pcipass " + command + " --");
    for (const std::string& option : long_options_in_help(command))
      EXPECT_TRUE(options.contains(option)) << command << ": " << option;
  }
}

TEST_F(Completion, ZshRunsTheSameFunctionThroughBashcompinit) {
  if (!have("zsh")) GTEST_SKIP() << "zsh is missing (apt install zsh)";
  const auto r = run_command(
      {"zsh", "-f", "-c",
       "autoload -U compinit && compinit -u; source " + single_quoted((dir.path() / "zsh").string()) +
           " && setopt ksharrays && COMP_WORDS=(pcipass lis) && COMP_CWORD=1 && _pcipass_bash && "
           "print -l -- ${COMPREPLY[@]}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // zsh's compgen leaves the matching against the typed word to zsh itself.
  EXPECT_NE(("\n" + r.out).find("\nlist\n"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("--json"), std::string::npos) << "commands, not options: " << r.out;
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
