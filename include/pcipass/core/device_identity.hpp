#pragma once

// What a PCI function is, as opposed to where it sits. An address and a
// vendor:device pair cannot tell two drives of one model apart: when twins
// swap addresses (a card added, a BIOS renumbering buses) only a serial
// says which is which. pcipass records the identity wherever a device is
// chosen (.config, journal) and refuses to act on a device whose identity
// differs from the recorded one.

#include <pcipass/core/error.hpp>
#include <pcipass/core/pci_address.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

struct PciDevice;
class Inventory;

// The serials of one function, each "" when the host did not show it. The
// strings come from firmware (sanitised, trimmed); the DSN and MAC are
// spelled by pcipass.
struct DeviceIdentity {
  std::string nvme_serial;  // the NVMe controller's serial (nvme/CTRL/serial)
  std::string dsn;          // PCIe Device Serial Number, "00-11-22-33-44-55-66-77" as lspci spells it
  std::string mac;          // the permanent MAC of a network function, "3c:7c:3f:12:34:56"
  std::string vpd_serial;   // the VPD's serial number (keyword SN)
  // The physical slot's label (bus/pci/slots/LABEL): where the device sits,
  // not what it is, so it is shown and recorded but never compared.
  std::string slot;

  // True when at least one serial (not the slot) is known.
  [[nodiscard]] bool has_serial() const;
  [[nodiscard]] bool empty() const { return !has_serial() && slot.empty(); }
  // "NVMe serial S4EWNX0R123456, DSN 00-11-22-33-44-55-66-77, slot 3", or
  // "no serial" when none is known (then with the slot, if any).
  [[nodiscard]] std::string describe() const;
  // The serials only, for messages about a comparison: "NVMe serial X" or
  // "NVMe serial X, DSN Y"; "no serial" when none.
  [[nodiscard]] std::string serials() const;
  // The one-line form kept in Kconfig strings and `.config` files:
  // "nvme-serial=S4EW... dsn=00-11-... slot=3", fields in this order, each
  // value percent-encoded outside [A-Za-z0-9._:/+-]. "" for an empty identity.
  [[nodiscard]] std::string to_text() const;
    // Reads to_text()'s form. A field this version does not know (a later
  // pcipass's) is skipped. Fails with ExitCode::bad_input on a repeated
  // field, a malformed escape or name, or a field without '='.
  static Result<DeviceIdentity> parse(std::string_view text);
  // {"nvme_serial": ..., "dsn": ..., "mac": ..., "vpd_serial": ..., "slot":
  // ...}: every field, null when unknown.
  [[nodiscard]] nlohmann::json to_json() const;
  // Reads to_json()'s form (null or absent fields are unknown). Fails with
  // ExitCode::bad_input naming a field that is not a string or null.
  static Result<DeviceIdentity> from_json(const nlohmann::json& json);
  bool operator==(const DeviceIdentity&) const = default;
};

// The identity of an inventory device: its first NVMe controller's serial,
// its DSN, the lowest permanent MAC of its interfaces, its VPD serial and
// its slot. Placeholder values firmware writes when it has no serial (all
// zeros, all ones, "Not Specified", "To Be Filled By O.E.M.", ...) are
// left out: they would make every such device the same.
DeviceIdentity identity_of(const PciDevice& device);

// What comparing a recorded identity with the one found now says.
enum class IdentityMatch {
  same,       // a serial both know agrees, and none disagrees
  different,  // a serial both know disagrees: another physical device
  unknown,    // no serial known on both sides: only the ids can tell
};

// Compares the serials both sides know (the slot never counts). One
// disagreeing serial makes the devices different whatever else agrees.
IdentityMatch compare_identity(const DeviceIdentity& recorded, const DeviceIdentity& now);

// What a record of the device at an address holds after `now` was read
// there. `same`: `now`, plus the serials only the record has (an NVMe drive
// on vfio-pci has no controller, so no serial: it stays known). `unknown`:
// the record's serials and `now`'s slot, never `now`'s serials, which
// would vouch for a device nothing proved to be the recorded one (a record
// without serials takes `now`). `different`: `now`.
DeviceIdentity carried_identity(const DeviceIdentity& recorded, const DeviceIdentity& now);

// The first serial that differs, for messages: "NVMe serial S2, not S1".
// "" when none differs.
std::string identity_difference(const DeviceIdentity& recorded, const DeviceIdentity& now);

// The addresses of `inventory` whose device compares `same` with `recorded`,
// in address order (empty when `recorded` has no serial). Only functions
// with the function number of `recorded_at` count: the functions of one
// card share its DSN, and a card that moves keeps its function numbers.
// More than one address means the serials cannot tell those devices apart.
std::vector<PciAddress> find_by_identity(const Inventory& inventory, const DeviceIdentity& recorded,
                                         const PciAddress& recorded_at);

// The serial number in a VPD image (the `vpd` attribute's bytes): the SN
// keyword of its read-only section, sanitised and trimmed; "" when the image
// has none or is malformed (never reads past its end).
std::string parse_vpd_serial(std::string_view vpd);

// The Device Serial Number extended capability's two dwords (lower, upper)
// as lspci spells the number: "00-11-22-33-44-55-66-77", most significant
// byte first.
std::string format_dsn(std::uint32_t lower, std::uint32_t upper);

}  // namespace pcipass::core
