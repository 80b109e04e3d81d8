#pragma once

// How much memory the guests that get devices may lock, read from their own
// definitions, for `pcipass permissions`' memlock limit.

#include "context.hpp"

#include <pcipass/core/pci_address.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pcipass::cli {

// kdevops keeps a guest's XML at DIR/NAME/NAME.xml; a flat DIR/NAME.xml is
// accepted too. The name must have passed core::is_valid_guest_name().
std::filesystem::path guest_file(const std::filesystem::path& dir, const std::string& guest);

struct GuestMemory {
  std::vector<std::string> guests;  // in the order found
  std::vector<std::uint64_t> bytes;  // what each may lock (libvirt's rule, without the margin)
  std::vector<std::string> notes;    // what was read and assumed, for the plan's notes
  std::string unlimited;             // a guest with locked memory: the limit must be unlimited
};

// The guests `names` (all given, each once), or, when `names` is empty,
// every guest whose definition holds a PCI <hostdev> of one of `devices`:
// from the files of `xml_dir` when it is not empty, else from the domains of
// the libvirt connection `-c URI` names. Without either nothing is read (a
// note says so; named guests are then a usage error): root's default
// connection holds system guests, which need no limit. Each guest counts
// what libvirt lets it lock (core::DomainXml::lockable_memory). A missing
// named guest, or a definition without a valid size, is a usage error; an
// unreadable file or libvirt is a host error. Empty `guests` when no
// definition holds the devices (the caller then assumes a default and says so).
GuestMemory read_guest_memory(Context& context, const std::vector<std::string>& names,
                              const std::string& xml_dir,
                              const std::vector<core::PciAddress>& devices);

}  // namespace pcipass::cli
