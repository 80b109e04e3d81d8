#pragma once

// Reading a Kconfig `.config` back: the generic symbol values, and what they
// say about PCI-E passthrough in kdevops' scheme (the technique, the target
// host name and the selected devices).

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// One symbol's assignment: the value as Kconfig means it (a string without
// its quotes and escapes; "n" for `# CONFIG_X is not set`) and the line it
// came from, for messages.
struct DotConfigValue {
  std::string value;
  std::size_t line = 0;
  bool quoted = false;
};

// The assignments of a `.config`, by symbol name without the `CONFIG_` prefix.
class DotConfig {
 public:
  // Parses `text`: `CONFIG_X=y`, `CONFIG_X="string"` (with Kconfig's `\"` and
  // `\\` escapes), `CONFIG_X=123` / `0x1f`, `# CONFIG_X is not set`, other
  // comments and blank lines. A later assignment of a symbol wins, as in
  // Kconfig. Fails with ExitCode::bad_input and `<source_name> line N: <what>`
  // on anything else, such as an unterminated string or text after it.
  static Result<DotConfig> parse(std::string_view text, std::string_view source_name = ".config");

  // The assignment of `symbol` (no `CONFIG_` prefix), or nullptr.
  [[nodiscard]] const DotConfigValue* find(std::string_view symbol) const;
  // True when `symbol` is set to `y`.
  [[nodiscard]] bool is_yes(std::string_view symbol) const;
  [[nodiscard]] const std::map<std::string, DotConfigValue, std::less<>>& values() const {
    return m_values;
  }
  // The name given to parse(), used in the messages of later checks.
  [[nodiscard]] const std::string& source_name() const { return m_source_name; }

 private:
  std::map<std::string, DotConfigValue, std::less<>> m_values;
  std::string m_source_name;
};

// How kdevops spreads the selected devices over its guests: the
// KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TYPE_* choice.
enum class PassthroughTechnique { first, specific, each, roundrobin };

// "first", "specific", "each", "roundrobin": the JSON spelling.
const char* to_string(PassthroughTechnique technique);

// A device the user selected in the menu.
struct SelectedDevice {
  std::size_t number = 0;  // the N of KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_000N
  PciAddress address;
  std::optional<unsigned> iommu_group;
  std::optional<std::uint16_t> vendor_id;  // from `_VENDOR_DEVICE`, when the file had it
  std::optional<std::uint16_t> device_id;
  std::string name;          // `_NAME`, as the menu showed it
  std::string sdevice;       // `_SDEVICE`: with no ids, what tells devices apart
  DeviceIdentity identity;   // `_IDENTITY`: the serials it had (empty when the file has none)
  std::string target_guest;  // `_TARGET_GUEST` for `each`, the host name for `specific`, else ""
};

// What a `.config` says about PCI-E passthrough.
struct PassthroughChoices {
  bool enabled = false;  // KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH=y
  PassthroughTechnique technique = PassthroughTechnique::first;
  std::string target_hostname;  // KDEVOPS_LIBVIRT_PCIE_PASSTHROUGH_TARGET_HOSTNAME (`specific`)
  std::vector<SelectedDevice> devices;  // by number; empty when not enabled
};

// Reads the passthrough choices out of `config`. A device's address comes
// from `_PCI_ID`, else from `_DOMAIN`/`_BUS`/`_SLOT`/`_FUNCTION`. Fails with
// ExitCode::bad_input and the line number when passthrough is enabled with
// no technique or several, or a selected device has no address, a malformed
// or contradictory one, a malformed group, ids or identity, or (with `each`) no target
// guest.
Result<PassthroughChoices> read_passthrough_choices(const DotConfig& config);

}  // namespace pcipass::core
