// pcipass entry point: the only place that creates the real OS objects
// (sysfs, /proc, the pci.ids database, libvirt connections) and the one
// catch that turns errors into `pcipass: error: ...` and an exit code.

#include "commands.hpp"
#include "completion.hpp"
#include "context.hpp"
#include "man_page.hpp"
#include "usage_errors.hpp"
#include "version.hpp"

#include <pcipass/host/journal.hpp>
#include <pcipass/host/libpci_names.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string_view>
#include <sstream>

namespace {

using pcipass::core::ExitCode;

constexpr const char* k_exit_codes = R"(Exit codes:
  0  success
  1  internal error
  2  usage error: bad option or argument (e.g. a malformed PCI address)
  3  bad input: a missing or malformed file (lspci text, XML, YAML, .config)
  4  host error: sysfs unreadable, libvirt unreachable, no IOMMU groups
  5  refused by a safety check (device used by the host, ids changed)
  6  busy: another pcipass run holds the state lock (--no-wait)
  7  doctor: the worst check is a WARN
  8  doctor: at least one check FAILed

Sources: sysfs by default (--sysfs-root, default /sys); libvirt node devices
with -c/--connect URI or --source libvirt (LIBVIRT_DEFAULT_URI is honoured);
lspci -Dvmmm text with --lspci FILE ('-' for standard input).

The manual: pcipass --man-page (installed as pcipass(8)). Shell completion:
pcipass --completion bash|zsh|fish.)";

pcipass::core::Result<std::string> read_input(const std::string& path) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return pcipass::core::fail("reading " + path + ": " + std::strerror(errno), ExitCode::bad_input);
  }
  buffer << in.rdbuf();
  if (in.bad()) {
    return pcipass::core::fail("reading " + path + ": " + std::strerror(errno), ExitCode::bad_input);
  }
  return buffer.str();
}

std::string default_proc_root(const std::string& sysfs_root) {
  // /sys gives /proc; a simulated host's HOST/sys gives HOST/proc.
  std::string root = sysfs_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::size_t slash = root.rfind('/');
  if (slash == std::string::npos) return "proc";
  return root.substr(0, slash + 1) + "proc";
}

// The folder `name` beside a sysfs root: /sys gives /name, HOST/sys gives HOST/name.
std::string sibling_of_sysfs(const std::string& sysfs_root, const std::string& name) {
  const std::string proc = default_proc_root(sysfs_root);
  return proc.substr(0, proc.size() - 4) + name;
}

bool is_real_sysfs(const std::string& sysfs_root) {
  std::error_code ec;
  return std::filesystem::weakly_canonical(sysfs_root, ec) == "/sys";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pcipass;
  cli::Context context;
  context.out = &std::cout;
  context.err = &std::cerr;
  cli::GlobalOptions& o = context.options;

  CLI::App app{"pcipass: PCIe passthrough manager for libvirt guests", "pcipass"};
  app.set_version_flag("--version", std::string("pcipass ") + cli::k_version);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(k_exit_codes);
  app.add_option("--sysfs-root", o.sysfs_root, "Root of the sysfs tree to read (a simulated host's sys/)")
      ->capture_default_str();
  app.add_option("--proc-root", o.proc_root,
                 "Root of the /proc tree for host-usage probes (default: proc beside --sysfs-root)");
  app.add_option("-c,--connect", o.connect,
                 "libvirt URI to read node devices and guests from; for another host, bind, "
                 "release, status, restore and bringup act there through its libvirt");
  app.add_option("--lspci", o.lspci_file, "Read devices from lspci -Dvmmm text in FILE ('-': stdin)");
  app.add_option("--host-usage", o.host_usage,
                 "Host usage of the devices of another host (-c URI, --lspci): the output of "
                 "pcipass list --json run on that host, in FILE ('-': stdin); refused when it "
                 "names another machine (hostname, system UUID)")
      ->type_name("FILE");
  app.add_option("--source", o.source, "Inventory source: auto, sysfs, libvirt or lspci")
      ->check(CLI::IsMember({"auto", "sysfs", "libvirt", "lspci"}))
      ->capture_default_str();
  app.add_option("--pci-ids", o.pci_ids, "pci.ids file to name devices with instead of the system's");
  app.add_flag("--json", o.json, "Print JSON (schema in docs/json.md) instead of a table");
  app.add_option("--dev-root", o.dev_root, "Root of the /dev tree (default: dev beside --sysfs-root)");
  app.add_option("--etc-root", o.etc_root,
                 "The /etc folder to read (default /etc for the real /sys; for a simulated host, "
                 "etc beside its sys/)");
  app.add_option("--run-root", o.run_root,
                 "Root of the /run tree, for udev's record of ZFS pool members (default: run "
                 "beside --sysfs-root)");
  app.add_option("--state-dir", o.state_dir,
                 "Folder of pcipass's journal and lock (default /var/lib/pcipass; for a simulated "
                 "host, var/lib/pcipass beside its sys/)");

  int exit_code = 0;
  cli::register_list(app, context, exit_code);
  cli::register_groups(app, context, exit_code);
  cli::register_bind(app, context, exit_code);
  cli::register_release(app, context, exit_code);
  cli::register_status(app, context, exit_code);
  cli::register_kconfig(app, context, exit_code);
  cli::register_doctor(app, context, exit_code);
  cli::register_permissions(app, context, exit_code);
  cli::register_plan(app, context, exit_code);
  cli::register_bringup(app, context, exit_code);
  cli::register_restore(app, context, exit_code);
  cli::register_install_service(app, context, exit_code);
  cli::register_attach(app, context, exit_code);
  cli::register_detach(app, context, exit_code);
  cli::register_vfs(app, context, exit_code);

  // The real objects are built once the options are known, before any
  // command callback runs (CLI11 calls parse_complete_callback first).
  std::unique_ptr<host::RealSysfs> sysfs;
  std::unique_ptr<host::RealSysfs> proc;
  std::unique_ptr<host::LibpciNames> names;
  std::unique_ptr<host::RealSysfs> dev;
  std::unique_ptr<host::RealSysfs> etc;
  std::unique_ptr<host::RealOs> os;
  std::unique_ptr<host::RealSysfs> run;
  app.parse_complete_callback([&] {
    // Absolute from here on: a journal written from one folder and read by
    // restore at boot from another must name the same files.
    for (std::string* root : {&o.sysfs_root, &o.proc_root, &o.dev_root, &o.etc_root, &o.run_root,
                              &o.state_dir}) {
      *root = cli::absolute_path(*root);
    }
    o.dev_root_given = !o.dev_root.empty();
    o.etc_root_given = !o.etc_root.empty();
    sysfs = std::make_unique<host::RealSysfs>(o.sysfs_root);
    proc = std::make_unique<host::RealSysfs>(o.proc_root.empty() ? default_proc_root(o.sysfs_root)
                                                                 : o.proc_root);
    names = std::make_unique<host::LibpciNames>(o.pci_ids);
    context.sysfs = sysfs.get();
    context.proc = proc.get();
    context.names = names.get();
    const bool real_host = is_real_sysfs(o.sysfs_root);
    if (o.dev_root.empty()) o.dev_root = sibling_of_sysfs(o.sysfs_root, "dev");
    dev = std::make_unique<host::RealSysfs>(o.dev_root);
    if (o.etc_root.empty()) o.etc_root = real_host ? "/etc" : sibling_of_sysfs(o.sysfs_root, "etc");
    etc = std::make_unique<host::RealSysfs>(o.etc_root);
    context.etc = etc.get();
    if (o.run_root.empty()) o.run_root = sibling_of_sysfs(o.sysfs_root, "run");
    run = std::make_unique<host::RealSysfs>(o.run_root);
    context.run = run.get();
    if (o.state_dir.empty()) {
      o.state_dir = real_host ? host::k_default_state_dir : sibling_of_sysfs(o.sysfs_root, "var/lib/pcipass");
    }
    // modprobe changes the running kernel: only when the tree is this machine's own /sys.
    os = std::make_unique<host::RealOs>(
        real_host ? host::ModuleLoading::modprobe : host::ModuleLoading::refused,
        "not loaded for the sysfs root " + o.sysfs_root +
            " (modprobe would change the running kernel, not that tree); load it there first");
    context.dev = dev.get();
    context.os = os.get();
  });
  context.open_libvirt = [](const std::string& uri) {
    return host::LibvirtConnection::open(uri, host::LibvirtConnection::Access::read_only);
  };
  context.open_libvirt_rw = [](const std::string& uri) {
    return host::LibvirtConnection::open(uri, host::LibvirtConnection::Access::read_write);
  };
  context.read_input = read_input;
  context.executable = [] {  // empty without /proc: install-service then refuses
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec).string();
  }();

  // The manual, generated from the definitions above (not listed in --help).
  if (argc == 2 && std::string_view(argv[1]) == "--man-page") {
    std::cout << cli::man_page(app, cli::k_version);
    return 0;
  }
  // Shell completion, generated from the same definitions.
  if (argc >= 2 && std::string_view(argv[1]) == "--completion") {
    const std::string shell = argc == 3 ? argv[2] : "";
    if (auto script = cli::completion_script(app, shell)) {
      std::cout << *script;
      return 0;
    }
    std::cerr << "pcipass: error: --completion takes one shell: bash, zsh or fish\n";
    return static_cast<int>(ExitCode::usage);
  }
  if (argc <= 1) {
    std::cerr << "pcipass: error: no command given\n" << cli::short_usage(app);
    return static_cast<int>(ExitCode::usage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    std::cerr << "pcipass: error: " << cli::explain_usage_error(app, args, e.what())
              << " (see pcipass --help)\n";
    return static_cast<int>(ExitCode::usage);
  } catch (const core::Failure& e) {
    std::cout.flush();
    std::cerr << "pcipass: error: " << e.error().message << "\n";
    return static_cast<int>(e.error().code);
  } catch (const std::exception& e) {
    std::cerr << "pcipass: error: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::failure);
  }
  return exit_code;
}
