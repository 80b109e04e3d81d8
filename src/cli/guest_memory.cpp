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
  // DIR/NAME/NAME.xml first (kdevops' layout wins over a flat file of the
  // same guest), then DIR/NAME.xml.
  std::vector<std::filesystem::path> nested;
  std::vector<std::filesystem::path> flat;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) throw Failure("listing " + dir.string() + ": " + ec.message(), ExitCode::host_error);
  for (const auto& entry : it) {
    const std::filesystem::path& path = entry.path();
    std::error_code entry_ec;  // a dangling link or a folder without NAME.xml is no error
    if (entry.is_regular_file(entry_ec) && path.extension() == ".xml") {
      flat.push_back(path);
    } else if (entry.is_directory(entry_ec)) {
      const std::filesystem::path file = path / (path.filename().string() + ".xml");
      if (std::filesystem::is_regular_file(file, entry_ec)) nested.push_back(file);
    }
  }
  std::sort(nested.begin(), nested.end());
  std::sort(flat.begin(), flat.end());
  nested.insert(nested.end(), flat.begin(), flat.end());
  std::vector<Definition> out;
  for (const auto& path : nested) {
    Definition d = read_file_definition(context, path, path.stem().string());
    // The domain's own name where it is a plain one (the file may be named otherwise).
    if (const std::string name = d.xml.name(); core::is_valid_guest_name(name)) d.guest = name;
    const bool seen = std::any_of(out.begin(), out.end(),
                                  [&](const Definition& o) { return o.guest == d.guest; });
    if (!seen) out.push_back(std::move(d));
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
    case core::LockableMemory::Basis::hard_limit: return "memtune hard_limit";
    case core::LockableMemory::Basis::locked: return "locked memory";
  }
  return "memory";
}

}  // namespace

GuestMemory read_guest_memory(Context& context, const std::vector<std::string>& names,
                              const std::string& xml_dir,
                              const std::vector<core::PciAddress>& devices) {
  std::vector<std::string> unique;
  for (const std::string& name : names) {
    if (std::find(unique.begin(), unique.end(), name) == unique.end()) unique.push_back(name);
  }
  for (const std::string& name : unique) {
    if (!core::is_valid_guest_name(name)) {
      throw Failure("--guest " + core::quote_for_message(name) +
                        " is not a guest name (letters, digits, '.', '_' and '-', at most 63)",
                    ExitCode::usage);
    }
  }
  GuestMemory out;
  std::vector<Definition> chosen;
  if (!xml_dir.empty() && !unique.empty()) {
    for (const std::string& name : unique)
      chosen.push_back(read_file_definition(context, guest_file(xml_dir, name), name));
  } else if (xml_dir.empty() && context.options.connect.empty()) {
    // Root's default connection is qemu:///system, whose guests need no
    // limit (libvirtd raises it) and are not the session guests this is for.
    if (!unique.empty()) {
      throw Failure("--guest " + core::quote_for_message(unique.front()) +
                        ": say where its definition is, with --xml-dir DIR (its XML file) or "
                        "-c URI (the libvirt that defines it)",
                    ExitCode::usage);
    }
    out.notes.push_back("guests not read: give --xml-dir DIR (the guests' XML files) or -c URI "
                        "(the libvirt that defines them) to size the limit from them");
  } else {
    std::vector<Definition> all =
        xml_dir.empty() ? read_libvirt_definitions(context) : read_dir_definitions(context, xml_dir);
    if (unique.empty()) {
      for (Definition& d : all)
        if (holds_any(d.xml, devices)) chosen.push_back(std::move(d));
    } else {
      for (const std::string& name : unique) {
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const Definition& d) { return d.guest == name; });
        if (it == all.end()) {
          throw Failure("no guest " + core::quote_for_message(name) + " in " +
                            (xml_dir.empty() ? core::sanitize_untrusted(context.options.connect)
                                             : xml_dir),
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
                        ") gives no memory size: its definition has no valid <memory> (or an "
                        "invalid memtune hard_limit)",
                    ExitCode::usage);
    }
    if (lockable->basis == core::LockableMemory::Basis::locked) {
      out.unlimited = d.guest;
      out.notes.push_back("guest " + core::quote_for_message(d.guest) +
                          " locks all its memory (<memoryBacking><locked/>, from " + d.where +
                          "): libvirt wants no memlock limit for it");
      continue;
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
