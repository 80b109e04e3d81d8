// Error paths of the command line: one clear line on stderr, the documented
// exit code, nothing on stdout.

#include "support/sim_host.hpp"

#include <gtest/gtest.h>

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

TEST(CliErrors, NoCommandIsAUsageError) {
  const auto r = run_pcipass({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with("pcipass: error: ")) << r.err;
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

}  // namespace
}  // namespace pcipass::test
