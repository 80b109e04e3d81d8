#pragma once

// Simulated hosts for tests, generated from tests/data/hosts/NAME.yaml by
// the build (target `simhosts`), and helpers to run commands.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pcipass::test {

// The root of the generated tree for host `name` (holding sys/, proc/, dev/,
// libvirt-test.xml); `name` may also be the absolute path of such a tree.
// Shared by all tests: read it, never write into it. Fails the current test
// (and throws) when it is missing.
std::filesystem::path sim_host(const std::string& name);

// The result of running a command: exit status and captured output.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (no shell), feeding `input` to its standard input, and
// captures stdout and stderr separately.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {});

// Runs the pcipass binary under test with `args`.
CommandResult run_pcipass(const std::vector<std::string>& args, const std::string& input = {});

// A fresh temporary directory, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

// Path of a file in the source tree, e.g. source_path("tests/data/hosts").
std::filesystem::path source_path(const std::string& relative);

// The bytes of a file ("" when it cannot be read: the test's own checks say why).
std::string file_text(const std::filesystem::path& path);

// Writes `text` to `path`, creating its folders.
void put_file(const std::filesystem::path& path, const std::string& text);

// The content of every regular file under `dir` (not symbolic links), by
// path relative to `dir`; empty when `dir` does not exist.
std::map<std::string, std::string> files_under(const std::filesystem::path& dir);

// The sample guest of xml-templates/guest-q35.xml, named `name`.
std::string sample_guest(const std::string& name);

// The long options (--name) `pcipass COMMAND --help` lists, in order.
std::vector<std::string> long_options_in_help(const std::string& command);

// The real lspci's text for the simulated host at `root` (its sys/bus/pci),
// with `flags` such as "-Dvmmm".
std::string lspci_text(const std::filesystem::path& root, const std::string& flags = "-Dvmmm");

// The URI of libvirt's test driver showing the simulated `host`'s devices
// (its libvirt-test.xml).
std::string test_driver_uri(const std::string& host);

// `pcipass list --json` of the simulated `host`, as that host would write
// it, but naming the host libvirt's test driver stands for: the driver
// answers virConnectGetHostname with this machine's name, so a report of
// `host` itself (hostname from its tree) is another machine's to it.
std::string usage_report_for_test_driver(const std::string& host);

// This machine's hostname (gethostname()).
std::string local_hostname();

// kdevops' numbers for `lspci -Dvmmm` text, worked out the way its
// generator does: the functions with an SDevice line, in the text's order,
// from 1. Address -> number.
std::map<std::string, std::size_t> kdevops_numbers(const std::string& lspci);

}  // namespace pcipass::test
