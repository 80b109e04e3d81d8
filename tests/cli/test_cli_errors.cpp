// Error paths of the command line: one clear line on stderr, the documented
// exit code, nothing on stdout.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace pcipass::test {
namespace {

void expect_error(const CommandResult& r, int code, const std::string& message) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err, "pcipass: error: " + message + "\n");
  EXPECT_EQ(r.out, "");
}

TEST(CliErrors, MissingSysfsRootIsAHostError) {
  expect_error(run_pcipass({"--sysfs-root", "/nonexistent/sys", "list"}), 4,
               "cannot list PCI devices: listing /nonexistent/sys/bus/pci/devices: No such file or "
               "directory (is this a sysfs root? pass --sysfs-root DIR)");
}

TEST(CliErrors, MissingLspciFileIsBadInput) {
  expect_error(run_pcipass({"list", "--lspci", "/nonexistent/lspci.txt"}), 3,
               "reading /nonexistent/lspci.txt: No such file or directory");
}

TEST(CliErrors, MalformedLspciTextIsBadInputWithLineNumber) {
  const auto r = run_pcipass({"list", "--lspci", "-"}, "Slot:\t0000:00:02.0\nthis is not lspci\n");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err,
            "pcipass: error: reading standard input: lspci output line 2: expected "
            "'Key:<tab>value' or a blank line, got 'this is not lspci'\n");
  EXPECT_EQ(r.out, "");
}

TEST(CliErrors, EmptyLspciTextSaysWhatWasExpected) {
  expect_error(run_pcipass({"list", "--lspci", "-"}, "\n"), 3,
               "reading lspci output from standard input: no devices in it (expected the output "
               "of lspci -Dvmmm)");
}

TEST(CliErrors, UnreachableLibvirtIsAHostError) {
  const auto r =
      run_pcipass({"list", "-c", "qemu:///system?socket=/nonexistent/libvirt-sock"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_TRUE(r.err.starts_with("pcipass: error: connecting to libvirt at "
                                "'qemu:///system?socket=/nonexistent/libvirt-sock': "))
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line only: " << r.err;
}

TEST(CliErrors, UnknownOptionIsAUsageError) {
  const auto r = run_pcipass({"list", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

TEST(CliErrors, NoCommandIsAUsageErrorWithTheCommands) {
  const auto r = run_pcipass({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("pcipass: error: no command given\nUsage: pcipass [OPTIONS] "
                                "COMMAND [ARGS...]\nCommands: list, groups, bind, release, "))
      << r.err;
  EXPECT_NE(r.err.find(", attach, detach, vfs\n"), std::string::npos) << r.err;
}

TEST(CliErrors, AMistypedCommandOrOptionGetsTheNearestOne) {
  auto r = run_pcipass({"lsit"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: unknown command 'lsit' (did you mean 'list'?); "
                                "the commands are list, groups, "))
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  // Global options and their values come before the command.
  r = run_pcipass({"--sysfs-root", "/sys", "-c", "test:///default", "bringpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'bringpu' (did you mean 'bringup'?)"), std::string::npos)
      << r.err;
  // Nothing near: no guess.
  r = run_pcipass({"frobnicate"});
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;

  r = run_pcipass({"list", "--jsno"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: list: unknown option '--jsno' (did you mean "
                                "'--json'?)"))
      << r.err;
  r = run_pcipass({"bind", "02:00.0", "--dryrun"});
  EXPECT_NE(r.err.find("bind: unknown option '--dryrun' (did you mean '--dry-run'?)"),
            std::string::npos)
      << r.err;
}

TEST(CliErrors, VersionIsTheProjectsVersion) {
  const auto r = run_pcipass({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out.starts_with(std::string("pcipass ") + PCIPASS_PROJECT_VERSION)) << r.out;
}

TEST(CliErrors, NonNumericGroupFilterIsAUsageError) {
  const auto r = run_pcipass({"list", "--group", "abc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
}

TEST(CliErrors, HelpDocumentsTheExitCodes) {
  const auto r = run_pcipass({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("4  host error: sysfs unreadable, libvirt unreachable, no IOMMU groups"),
            std::string::npos)
      << r.out;
}

// pcipass(8) is generated from the command-line definitions: every command
// and every option of --help is in it, and troff reads it without a warning.
TEST(CliManPage, NamesEveryCommandAndOptionOfHelp) {
  const auto man = run_pcipass({"--man-page"});
  ASSERT_EQ(man.exit_code, 0) << man.err;
  EXPECT_TRUE(man.out.starts_with(".\\\" Generated by pcipass --man-page")) << man.out.substr(0, 80);
  const auto usage = run_pcipass({});
  const std::string commands_line = usage.err.substr(usage.err.find("Commands: ") + 10);
  std::istringstream commands(commands_line.substr(0, commands_line.find('\n')));
  std::size_t count = 0;
  for (std::string command; std::getline(commands, command, ',');) {
    if (command.starts_with(" ")) command.erase(0, 1);
    ++count;
    std::string title;
    for (char c : command) title += c == '-' ? std::string("\\-") : std::string(1, c);
    const std::size_t section = man.out.find(".SS \"" + title + "\"");
    ASSERT_NE(section, std::string::npos) << command;
    const std::size_t next = std::min(man.out.find("\n.SS ", section + 1), man.out.find("\n.SH ", section + 1));
    const std::string text = man.out.substr(section, next - section);
    // Each long option of the command's --help, in the man page's spelling,
    // in that command's own section.
    for (const std::string& option : long_options_in_help(command)) {
      if (option == "--help") continue;
      std::string spelled;
      for (char c : option) spelled += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(text.find(spelled), std::string::npos) << command << " " << option;
    }
  }
  EXPECT_GE(count, 15u);
  if (run_command({"groff", "--version"}).exit_code == 127) GTEST_SKIP() << "groff is missing";
  TempDir dir;
  put_file(dir.path() / "pcipass.8", man.out);
  const auto rendered =
      run_command({"groff", "-man", "-Tutf8", "-ww", "-z", (dir.path() / "pcipass.8").string()});
  EXPECT_EQ(rendered.exit_code, 0) << rendered.err;
  EXPECT_EQ(rendered.err, "") << "troff warnings";
}

}  // namespace
}  // namespace pcipass::test
