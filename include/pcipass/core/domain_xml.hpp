#pragma once

#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>

#include <pugixml.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// Who put a <hostdev> into a domain: pcipass marks its own with a libvirt
// user alias (`<alias name='ua-pcipass-0000-2d-00-0'/>`), which survives
// virsh define and dumpxml, unlike an XML comment.
enum class HostdevOwner { pcipass, user };

struct PciHostdev {
  PciAddress address;
  HostdevOwner owner = HostdevOwner::user;
};

// What add_hostdev() and remove_hostdev() did. `removal_requested` only
// comes from a running guest (host/libvirt_domain.hpp): libvirt asked the
// guest to let the device go and it has not yet (PCIe hot-unplug waits for
// the guest's OS), so the device is still the guest's.
enum class HostdevChange {
  added,
  already_present,
  removed,
  not_present,
  owned_by_user,
  removal_requested
};

// A libvirt domain document edited in memory. Parsing keeps comments,
// processing instructions and whitespace, so a document written back differs
// from the original only where pcipass changed it.
// What a guest may lock with a passed-through device, as libvirt sizes it
// on x86: `locked` (<memoryBacking><locked/>): no limit at all; else
// `hard_limit` (<memtune><hard_limit>): that, as it is; else `memory`: its
// <memory>, to which libvirt adds 1 GiB (and raises the limit itself when
// memory is hot-plugged later). `kib` is 0 for `locked`.
struct LockableMemory {
  enum class Basis { memory, hard_limit, locked };
  std::uint64_t kib = 0;
  Basis basis = Basis::memory;
};

// The host device of a file holding one PCI <hostdev> (what `virsh
// attach-device` reads), such as kdevops' per-device files. Fails with
// ExitCode::bad_input, naming `source_name`, when the text is not
// well-formed or its root is not a <hostdev type='pci'> with a valid
// <source><address>.
Result<PciAddress> parse_hostdev_file(std::string_view xml, std::string_view source_name);

class DomainXml {
 public:
  // Parses `xml`. Fails with ExitCode::bad_input when it is not well-formed,
  // its root is not <domain>, or it has no <devices>.
  static Result<DomainXml> parse(std::string_view xml);

  DomainXml(DomainXml&&) noexcept = default;
  DomainXml& operator=(DomainXml&&) noexcept = default;

  // The <name> of the domain ("" when missing).
  [[nodiscard]] std::string name() const;
  // The machine type of <os><type machine='...'>, e.g. "pc-q35-7.2" ("" when unset).
  [[nodiscard]] std::string machine() const;
  // True when the machine type is a q35 one (PCIe; what passthrough wants).
  [[nodiscard]] bool is_q35() const;
  // The guest's <memory> in KiB, converting libvirt's units; nullopt when absent or invalid.
  [[nodiscard]] std::optional<std::uint64_t> memory_kib() const;
  // How much memory the guest may lock with a passed-through device (see
  // LockableMemory). nullopt when <memory> is missing or invalid, or a
  // <memtune><hard_limit> is there but invalid (never silently skipped).
  [[nodiscard]] std::optional<LockableMemory> lockable_memory() const;

  // Every PCI <hostdev> with a parseable source address, in document order.
  [[nodiscard]] std::vector<PciHostdev> pci_hostdevs() const;
  // Every host PCI device the domain takes: its PCI <hostdev>s, then its
  // <interface type='hostdev'> (an SR-IOV VF given as a NIC) sources.
  // Devices a <interface type='network'> draws from a hostdev pool are
  // chosen by libvirt at start and not named here.
  [[nodiscard]] std::vector<PciAddress> held_pci_devices() const;

  // Adds a pcipass-marked <hostdev> for `address`, built from `hostdev_template`
  // (xml-templates/hostdev-pci.xml), after the last existing <hostdev> or at the
  // end of <devices>, indented like its siblings. Does nothing when any
  // hostdev for `address` is there already. Fails (bad_input) on a broken template.
  Result<HostdevChange> add_hostdev(const PciAddress& address, std::string_view hostdev_template);

  // Removes the pcipass-marked <hostdev> of `address` with the whitespace
  // before it; leaves a user's hostdev alone (owned_by_user).
  HostdevChange remove_hostdev(const PciAddress& address);

  // The document as text: the text it was parsed from, byte for byte,
  // with only the added hostdevs (in the file's line ends, single-quoted
  // attributes) and the removed ones spliced in and out, so quoting,
  // entities and character references, empty elements, line ends and the
  // DOCTYPE stay as the user wrote them; attach then detach gives the same
  // bytes. Should a splice not give the document held in memory, the whole
  // document is written the plain way instead (libvirt's single quotes).
  [[nodiscard]] std::string to_string() const;

 private:
  DomainXml();
  std::unique_ptr<pugi::xml_document> m_document;

  // An edit of m_original: `erase` bytes at `at` replaced by `text`. An
  // insertion also names the node it put into the document, so that
  // removing that node again drops it.
  struct Splice {
    std::size_t at = 0;
    std::size_t erase = 0;
    std::string text;
    const void* node = nullptr;    // the hostdev an insertion added
    const void* indent = nullptr;  // and the whitespace it put before it
  };
  std::string m_original;
  std::vector<Splice> m_splices;
  bool m_spliceable = true;  // false once an edit could not be placed in the text
  std::optional<std::string> spliced() const;
  void record_insertion(const pugi::xml_node& devices, const pugi::xml_node& indent,
                        const pugi::xml_node& inserted);
  void record_removal(const pugi::xml_node& before, const pugi::xml_node& hostdev);
  // pugixml keeps the comments and processing instructions around the root
  // element but not the whitespace between them, so the text before and
  // after the root (which pcipass never edits) is kept verbatim when it can
  // be told apart safely; else m_epilog holds only the trailing whitespace.
  void keep_surroundings(std::string_view xml);
  std::string m_prolog;
  std::string m_epilog;
  bool m_verbatim = false;
};

// The <hostdev> element pcipass would add for `address`, as text, built
// from `hostdev_template`; what virDomainAttachDeviceFlags takes.
Result<std::string> make_hostdev_xml(const PciAddress& address, std::string_view hostdev_template);

// The alias pcipass gives the hostdev of `address`: `ua-pcipass-0000-2d-00-0`.
std::string pcipass_alias(const PciAddress& address);

}  // namespace pcipass::core
