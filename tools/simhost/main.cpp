// pcipass-simhost HOST.yaml OUTDIR [--force]: writes a simulated host.
//
// The output directory is deleted on --force, so the checks here keep that
// from ever reaching a real system tree or a folder this tool did not write.
#include "simhost.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fs = std::filesystem;
using namespace pcipass::simhost;

namespace {

constexpr const char* k_marker = ".pcipass-simhost";

constexpr const char* k_usage =
    "usage: pcipass-simhost [--force] HOST.yaml OUTDIR\n"
    "\n"
    "Writes a simulated host described by HOST.yaml into OUTDIR: sys/, proc/,\n"
    "dev/, libvirt-test.xml and, when the host lists pci_ids, pci.ids.\n"
    "OUTDIR must not exist or be empty; --force replaces an OUTDIR that an\n"
    "earlier run of pcipass-simhost wrote.\n"
    "\n"
    "Exit status: 0 on success, 1 on any error, 2 on bad usage.\n";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("reading " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw Error("writing " + path.string() + ": " + std::strerror(errno));
}

bool under(const fs::path& path, const fs::path& top) {
  auto [end, ignored] = std::mismatch(top.begin(), top.end(), path.begin(), path.end());
  return end == top.end();
}

// Refuses the real system trees outright (/, /sys, /proc, /dev but for
// /dev/shm/*), then an OUTDIR with content unless --force and the marker
// file shows this tool wrote it.
void prepare_out_dir(const fs::path& out_dir, bool force) {
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(fs::absolute(out_dir), ec);
  if (ec) throw Error("resolving " + out_dir.string() + ": " + ec.message());
  // /dev/shm/* is the one scratch tmpfs under /dev: fast for big hosts.
  const bool shm = under(resolved, "/dev/shm") && resolved != "/dev/shm";
  if (resolved == "/" || under(resolved, "/sys") || under(resolved, "/proc") ||
      (under(resolved, "/dev") && !shm))
    throw Error("refusing to write into " + resolved.string() + ": it is a real system tree");
  if (!fs::exists(resolved)) {
    fs::create_directories(resolved, ec);
    if (ec) throw Error("creating " + resolved.string() + ": " + ec.message());
    return;
  }
  if (!fs::is_directory(resolved))
    throw Error(resolved.string() + " exists and is not a directory");
  if (fs::is_empty(resolved)) return;
  if (!force)
    throw Error(resolved.string() +
                " is not empty (use --force to replace an earlier simulated host)");
  if (!fs::exists(resolved / k_marker))
    throw Error("refusing to delete " + resolved.string() + ": it has no " + k_marker +
                " marker, so pcipass-simhost did not write it; remove it yourself");
  fs::remove_all(resolved, ec);
  if (!ec) fs::create_directory(resolved, ec);
  if (ec) throw Error("replacing " + resolved.string() + ": " + ec.message());
}

}  // namespace

int main(int argc, char** argv) {
  bool force = false;
  std::vector<std::string> operands;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--force" || arg == "-f")
      force = true;
    else if (arg == "--help" || arg == "-h") {
      std::cout << k_usage;
      return 0;
    } else if (arg.starts_with("-") && arg != "-") {
      std::cerr << "pcipass-simhost: error: unknown option " << arg << "\n" << k_usage;
      return 2;
    } else
      operands.push_back(arg);
  }
  if (operands.size() != 2) {
    std::cerr << k_usage;
    return 2;
  }
  try {
    const std::string& yaml_path = operands[0];
    const Host host = parse_host(read_file(yaml_path), yaml_path);
    const fs::path out_dir = operands[1];
    prepare_out_dir(out_dir, force);
    write_file(out_dir / k_marker, "written by pcipass-simhost from " + yaml_path + "\n");
    write_tree(host, out_dir.string());
    write_file(out_dir / "libvirt-test.xml", libvirt_test_xml(host));
    if (!host.pci_ids.empty()) write_file(out_dir / "pci.ids", pci_ids_text(host));
  } catch (const std::exception& e) {
    std::cerr << "pcipass-simhost: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
