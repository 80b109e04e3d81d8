#include "guest_memory.hpp"

#include <pcipass/core/assignment_planner.hpp>
#include <pcipass/core/domain_xml.hpp>
#include <pcipass/core/human_name.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/host/libvirt_domain.hpp>

#include <algorithm>
#include <optional>

namespace pcipass::cli {

using core::ExitCode;
using core::Failure;

std::filesystem::path guest_file(const std::filesystem::path& dir, const std::string& guest) {
  const std::filesystem::path nested = dir / guest / (guest + ".xml");
  std::error_code ec;
  if (std::filesystem::exists(nested, ec)) return nested;
  return dir / (guest + ".xml");
}

namespace {

struct Definition {
  std::string guest;
  std::string where;  // "guestfs/xfs/xfs.xml", "domain 'xfs' at qemu:///system"
  core::DomainXml xml;
};

Definition read_file_definition(Context& context, const std::filesystem::path& path,
                                const std::string& guest) {
  auto text = context.os->read_file(path).value_or_throw();
  if (!text) {
    throw Failure("no definition of guest " + core::quote_for_message(guest) + ": " +
                      path.string() + " does not exist (--xml-dir takes DIR/NAME/NAME.xml or "
                                      "DIR/NAME.xml)",
                  ExitCode::usage);
  }
  auto xml = core::DomainXml::parse(*text);
  if (!xml) throw Failure(xml.error().with_context("reading " + path.string()));
  return Definition{guest, path.string(), std::move(*xml)};
}

// Every guest file of `dir`: DIR/NAME.xml and DIR/NAME/NAME.xml.
std::vector<Definition> read_dir_definitions(Context& context, const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Failure("--xml-dir " + core::quote_for_message(dir.string()) + " is not a folder",
                  ExitCode::usage);
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::filesystem::path& path = entry.path();
    const std::string name = path.filename().string();
    if (entry.is_regular_file(ec) && path.extension() == ".xml") {
      files.push_back(path);
    } else if (entry.is_directory(ec)) {
      const std::filesystem::path nested = path / (name + ".xml");
      if (std::filesystem::is_regular_file(nested, ec)) files.push_back(nested);
    }
  }
  if (ec) throw Failure("listing " + dir.string() + ": " + ec.message(), ExitCode::host_error);
  std::sort(files.begin(), files.end());
  std::vector<Definition> out;
  for (const auto& path : files) {
    Definition d = read_file_definition(context, path, path.stem().string());
    // The domain's own name where it is a plain one (the file may be named otherwise).
    if (const std::string name = d.xml.name(); core::is_valid_guest_name(name)) d.guest = name;
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Definition> read_libvirt_definitions(Context& context) {
  const auto connection = context.open_libvirt(context.options.connect).value_or_throw();
  std::vector<Definition> out;
  for (auto& domain : host::read_all_domains(connection).value_or_throw()) {
    out.push_back(Definition{domain.name,
                             "domain " + core::quote_for_message(domain.name) + " at " +
                                 connection.uri(),
                             std::move(domain.xml)});
  }
  return out;
}

bool holds_any(const core::DomainXml& xml, const std::vector<core::PciAddress>& devices) {
  for (const core::PciHostdev& h : xml.pci_hostdevs()) {
    if (std::find(devices.begin(), devices.end(), h.address) != devices.end()) return true;
  }
  return false;
}

const char* basis_name(core::LockableMemory::Basis basis) {
  switch (basis) {
    case core::LockableMemory::Basis::memory: return "memory";
    case core::LockableMemory::Basis::max_memory: return "maxMemory";
    case core::LockableMemory::Basis::hard_limit: return "memtune hard_limit";
  }
  return "memory";
}

}  // namespace

GuestMemory read_guest_memory(Context& context, const std::vector<std::string>& names,
                              const std::string& xml_dir,
                              const std::vector<core::PciAddress>& devices) {
  for (const std::string& name : names) {
    if (!core::is_valid_guest_name(name)) {
      throw Failure("--guest " + core::quote_for_message(name) +
                        " is not a guest name (letters, digits, '.', '_' and '-', at most 63)",
                    ExitCode::usage);
    }
  }
  GuestMemory out;
  std::vector<Definition> chosen;
  if (!xml_dir.empty() && !names.empty()) {
    for (const std::string& name : names)
      chosen.push_back(read_file_definition(context, guest_file(xml_dir, name), name));
  } else if (xml_dir.empty() && names.empty() && context.options.connect.empty() &&
             context.options.sysfs_root != "/sys") {
    // A simulated host's addresses are not this machine's guests' devices.
    out.notes.push_back("guests not read: the sysfs root " + context.options.sysfs_root +
                        " is not this machine's, so its libvirt guests are not the ones "
                        "(give --xml-dir, --guest or -c URI)");
  } else {
    std::vector<Definition> all;
    if (!xml_dir.empty()) {
      all = read_dir_definitions(context, xml_dir);
    } else if (!names.empty()) {
      all = read_libvirt_definitions(context);
    } else {
      // Looking for the guests that hold the devices is a courtesy: without
      // libvirt, the default size is used and said.
      try {
        all = read_libvirt_definitions(context);
      } catch (const Failure& e) {
        out.notes.push_back("guests not read from libvirt: " + e.error().message);
      }
    }
    if (names.empty()) {
      for (Definition& d : all)
        if (holds_any(d.xml, devices)) chosen.push_back(std::move(d));
    } else {
      for (const std::string& name : names) {
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const Definition& d) { return d.guest == name; });
        if (it == all.end()) {
          throw Failure("no guest " + core::quote_for_message(name) + " at " +
                            core::sanitize_untrusted(context.options.connect.empty()
                                                         ? std::string("libvirt's default URI")
                                                         : context.options.connect) +
                            " (name a defined domain, or give --xml-dir)",
                        ExitCode::usage);
        }
        chosen.push_back(std::move(*it));
        all.erase(it);
      }
    }
  }
  for (const Definition& d : chosen) {
    const auto lockable = d.xml.lockable_memory();
    if (!lockable) {
      throw Failure("guest " + core::quote_for_message(d.guest) + " (" + d.where +
                        ") gives no memory size: its definition has no valid <memory>",
                    ExitCode::usage);
    }
    const std::uint64_t bytes = lockable->kib * 1024;
    out.guests.push_back(d.guest);
    out.bytes.push_back(bytes);
    out.notes.push_back("guest " + core::quote_for_message(d.guest) + " may lock " +
                        core::format_bytes(bytes) + " (its " + basis_name(lockable->basis) +
                        ", from " + d.where + ")");
  }
  return out;
}

}  // namespace pcipass::cli
