#include "support/sim_host.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace pcipass::test {
namespace fs = std::filesystem;

namespace {

fs::path make_temp_dir(const char* prefix) {
  std::string pattern = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  return pattern;
}

}  // namespace

fs::path source_path(const std::string& relative) { return fs::path(PCIPASS_SOURCE_DIR) / relative; }

fs::path sim_host(const std::string& name) {
  // Built by the `simhosts` target (tests/CMakeLists.txt) before any test runs.
  // An absolute path is a generated host of its own (bench/binds.cpp).
  const fs::path root = name.starts_with('/') ? fs::path(name) : fs::path(PCIPASS_SIMHOST_DIR) / name;
  if (!fs::exists(root / "sys/bus/pci/devices")) {
    ADD_FAILURE() << "simulated host " << name << " is missing at " << root
                  << ": build the simhosts target";
    throw std::runtime_error("simulated host missing");
  }
  return root;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
  // A child that exits before reading its input must not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult result;
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
  int open_fds = 2;
  while (open_fds > 0 || fds[2].fd >= 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[65536];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(fds[2].fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n <= 0 || written == input.size()) {
        ::close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult run_pcipass(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{PCIPASS_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input);
}

TempDir::TempDir() : m_path(make_temp_dir("pcipass-test-")) {}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(m_path, ec);
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void put_file(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::map<std::string, std::string> files_under(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && !entry.is_symlink())
      files[entry.path().lexically_relative(dir).string()] = file_text(entry.path());
  }
  return files;
}

std::string sample_guest(const std::string& name) {
  std::string xml = file_text(source_path("xml-templates/guest-q35.xml"));
  const std::string from = "<name>pcipass-guest</name>";
  xml.replace(xml.find(from), from.size(), "<name>" + name + "</name>");
  return xml;
}

std::vector<std::string> long_options_in_help(const std::string& command) {
  const CommandResult help = run_pcipass({command, "--help"});
  std::vector<std::string> options;
  std::istringstream lines(help.out);
  for (std::string line; std::getline(lines, line);) {
    // An option line starts with its names: "  -o,--output FILE ...".
    const std::size_t at = line.find("--");
    if (at == std::string::npos || line.find_first_not_of(' ') != line.find('-')) continue;
    std::size_t end = at + 2;
    while (end < line.size() &&
           (std::isalnum(static_cast<unsigned char>(line[end])) || line[end] == '-'))
      ++end;
    options.push_back(line.substr(at, end - at));
  }
  return options;
}

std::string test_driver_uri(const std::string& host) {
  return "test://" + (sim_host(host) / "libvirt-test.xml").string();
}

std::string local_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

std::string usage_report_for_test_driver(const std::string& host) {
  const auto r = run_pcipass({"--sysfs-root", (sim_host(host) / "sys").string(), "--json", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  if (!doc.is_object()) return r.out;
  doc["host"] = {{"hostname", local_hostname()}, {"machine_id", nullptr}, {"system_uuid", nullptr},
                 {"libvirt_uuid", nullptr}};
  return doc.dump(2);
}

std::string lspci_text(const std::filesystem::path& root, const std::string& flags) {
  const CommandResult r = run_command(
      {"lspci", "-A", "linux-sysfs", "-O", "sysfs.path=" + (root / "sys/bus/pci").string(), flags});
  if (r.exit_code != 0) throw std::runtime_error("lspci failed: " + r.err);
  return r.out;
}

std::map<std::string, std::size_t> kdevops_numbers(const std::string& lspci) {
  std::map<std::string, std::size_t> out;
  std::size_t start = 0;
  std::string slot;
  std::size_t count = 0;
  while (start < lspci.size()) {
    std::size_t end = lspci.find('\n', start);
    if (end == std::string::npos) end = lspci.size();
    const std::string line = lspci.substr(start, end - start);
    if (line.starts_with("Slot:\t")) slot = line.substr(6);
    if (line.starts_with("SDevice:\t")) out[slot] = ++count;
    start = end + 1;
  }
  return out;
}

}  // namespace pcipass::test
