#include "context.hpp"

#include <pcipass/core/lspci_parser.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/usage_report.hpp>
#include <pcipass/host/complete_inventory.hpp>
#include <pcipass/host/host_identity.hpp>
#include <pcipass/host/libvirt_source.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <filesystem>
#include <ostream>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

SourceKind select_source(const GlobalOptions& o) {
  if (o.source == "sysfs") return SourceKind::sysfs;
  if (o.source == "libvirt") return SourceKind::libvirt;
  if (o.source == "lspci") return SourceKind::lspci;
  if (!o.lspci_file.empty()) return SourceKind::lspci;
  if (!o.connect.empty()) return SourceKind::libvirt;
  return SourceKind::sysfs;
}

// Why the devices behind libvirt URI `uri` are not this machine's, or ""
// when they are. Only a hypervisor driver with no host part, over no
// transport or a plain unix socket, and without a socket, command or netcat
// parameter (each could lead elsewhere) is this machine (qemu:///system,
// qemu+unix:///session). Anything else is not: another host
// (qemu+ssh://h/system, even "localhost", which ssh may send anywhere), the
// test driver (test:///default, whose devices are made up), a URI pcipass
// cannot tell. This machine's sysfs and /proc say nothing about those.
std::string foreign_libvirt(const std::string& uri) {
  const std::string shown = core::sanitize_untrusted(uri);
  const std::size_t scheme_end = uri.find(':');
  const std::string scheme = uri.substr(0, scheme_end);
  const std::size_t plus = scheme.find('+');
  const std::string driver = scheme.substr(0, plus);
  const std::string transport = plus == std::string::npos ? "" : scheme.substr(plus + 1);
  if (driver == "test") return "libvirt's test driver (" + shown + "), not this machine";
  if (scheme_end == std::string::npos || uri.compare(scheme_end, 3, "://") != 0) {
    return "a libvirt URI pcipass cannot tell is this machine (" + shown + ")";
  }
  const std::size_t host_start = scheme_end + 3;
  const std::size_t host_end = uri.find_first_of("/?", host_start);
  const std::string host = uri.substr(
      host_start, host_end == std::string::npos ? std::string::npos : host_end - host_start);
  if (!host.empty()) return "another host (" + shown + ")";
  if (!transport.empty() && transport != "unix") {
    return "a libvirt URI pcipass cannot tell is this machine (" + shown + ")";
  }
  const std::size_t query = uri.find('?');
  if (query != std::string::npos) {
    for (const char* key : {"socket=", "command=", "netcat="}) {
      if (uri.find(key, query) != std::string::npos) {
        return "a libvirt URI pcipass cannot tell is this machine (" + shown + ")";
      }
    }
  }
  return "";
}

std::optional<std::string> read_optional_input(Context& context, const std::string& path,
                                               bool required) {
  std::optional<std::string> text;
  if (path == "-") {
    text = context.read_input(path).value_or_throw();
  } else {
    text = context.os->read_file(path).value_or_throw();
  }
  if (!text && required) throw Failure(path + ": no such file", ExitCode::bad_input);
  return text;
}

void refuse_foreign_connection(const Context& context, const std::string& uri) {
  if (uri.empty()) return;
  const std::string foreign = foreign_libvirt(uri);
  if (foreign.empty()) return;
  throw Failure("this command changes or reads this machine's devices (" +
                    context.options.sysfs_root + "), but -c names " + foreign +
                    ": pcipass never mixes the two; run it on that host (bind, release and status "
                    "act on another host through libvirt; this command does not)",
                ExitCode::usage);
}

std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  std::filesystem::path full = std::filesystem::absolute(path, ec);
  if (ec) full = path;
  std::string text = full.lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

void warn(Context& context, const std::string& text) {
  *context.err << "pcipass: warning: " << text << "\n";
}

void warn_unknown_host_usage(Context& context, const LoadedInventory& loaded) {
  // load_inventory() said why already, unless a report told the usage.
  if (!loaded.foreign.empty() && loaded.usage_report.empty()) return;
  const core::Inventory& inventory = loaded.inventory;
  std::size_t count = 0;
  std::string why;
  for (const auto& [address, device] : inventory.devices()) {
    if (device.host_usage_unknown.empty()) continue;
    ++count;
    why = device.host_usage_unknown;
  }
  if (count == 0) return;
  warn(context, why + ": host usage unknown for " + std::to_string(count) +
                    (count == 1 ? " device" : " devices") +
                    ", which need --force like the host's own (pcipass doctor says more)");
}

LoadedInventory load_inventory(Context& context, const DeviceScope& scope,
                               const host::LibvirtConnection* connection,
                               const core::HostIdentity* host) {
  const GlobalOptions& o = context.options;
  LoadedInventory loaded;
  // The host's identity is printed by --json and checked against a usage
  // report; over libvirt it costs three calls, so only then is it read.
  const bool host_wanted = o.json || !o.host_usage.empty();
  host::HaveDetails details = host::HaveDetails::no;
  switch (select_source(o)) {
    case SourceKind::sysfs: {
      loaded.inventory = (scope.everything
                              ? host::read_sysfs_inventory(*context.sysfs)
                              : host::read_sysfs_inventory(*context.sysfs, scope.named))
                             .value_or_throw();
      loaded.source_label = "sysfs:" + o.sysfs_root;
      if (host_wanted)
        loaded.host = host::read_local_identity(*context.sysfs, *context.proc, context.etc);
      details = host::HaveDetails::yes;
      break;
    }
    case SourceKind::libvirt: {
      std::optional<host::LibvirtConnection> opened;
      if (connection == nullptr) {
        opened.emplace(context.open_libvirt(o.connect).value_or_throw());
        connection = &*opened;
      }
      loaded.inventory = host::read_libvirt_inventory(*connection).value_or_throw();
      loaded.source_label = "libvirt:" + connection->uri();
      if (host != nullptr) {
        loaded.host = *host;
      } else if (host_wanted) {
        loaded.host = host::read_libvirt_identity(*connection);
      }
      loaded.foreign = foreign_libvirt(connection->uri());
      break;
    }
    case SourceKind::lspci: {
      if (o.lspci_file.empty()) {
        throw Failure("--source lspci needs --lspci FILE (or - for standard input)",
                      ExitCode::usage);
      }
      const std::string what = o.lspci_file == "-" ? "standard input" : o.lspci_file;
      const std::string text = context.read_input(o.lspci_file).value_or_throw();
      loaded.inventory =
          core::parse_lspci_vmm(text).value_or_throw("reading " + what);
      if (loaded.inventory.devices().empty()) {
        throw Failure("reading lspci output from " + what +
                          ": no devices in it (expected the output of lspci -Dvmmm)",
                      ExitCode::bad_input);
      }
      loaded.source_label = "lspci:" + o.lspci_file;
      loaded.foreign = "lspci text, not this machine's /sys";
      break;
    }
  }
  const host::LocalHost local{*context.sysfs, *context.proc, context.dev, context.run};
  const bool local_host = loaded.foreign.empty();
  host::complete_inventory(loaded.inventory, *context.names, local_host ? &local : nullptr, details,
                           loaded.foreign);
  if (!o.host_usage.empty()) {
    if (local_host) {
      throw Failure("--host-usage is for devices read from another host (-c URI of that host, or "
                    "--lspci); this machine's host usage is read from its own /sys and /proc",
                    ExitCode::usage);
    }
    if (o.host_usage == "-" && o.lspci_file == "-") {
      throw Failure("--lspci - and --host-usage - cannot both read standard input", ExitCode::usage);
    }
    const std::string name = o.host_usage == "-" ? "standard input" : o.host_usage;
    const std::string text = context.read_input(o.host_usage).value_or_throw();
    const core::UsageReport report = core::parse_usage_report(text).value_or_throw("reading " + name);
    // lspci text names no host: only its devices can be compared.
    const bool host_known = select_source(o) != SourceKind::lspci;
    core::apply_usage_report(loaded.inventory, report, name, host_known ? &loaded.host : nullptr)
        .value_or_throw();
    loaded.usage_report = name;
  } else if (!local_host) {
    warn(context, "host usage unknown: the devices come from " + loaded.foreign +
                      "; none is called free, acting on one needs --force (or pass --host-usage "
                      "FILE: pcipass list --json run on that host)");
  }
  return loaded;
}

}  // namespace pcipass::cli
