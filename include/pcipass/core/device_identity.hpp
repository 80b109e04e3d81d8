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
// spelled by pcipass. An SR-IOV virtual function (VF) rarely has serials
// of its own: it is told by its card's, which identity_of() takes from its
// physical function (PF), and by its number on that card (`vf`).
struct DeviceIdentity {
  std::string nvme_serial;  // the NVMe controller's serial (nvme/CTRL/serial)
  std::string dsn;          // PCIe Device Serial Number, "00-11-22-33-44-55-66-77" as lspci spells it
  std::string mac;          // the permanent MAC of a network function, "3c:7c:3f:12:34:56"
  std::string vpd_serial;   // the VPD's serial number (keyword SN)
  // A VF's number on its card ("0" for the PF's first VF), "" for any other
  // function. Not a serial: it never vouches for a device by itself, but
  // two VFs of one card differ by it.
  std::string vf;
  // The physical slot's label (bus/pci/slots/LABEL): where the device sits,
  // not what it is, so it is shown and recorded but never compared.
  std::string slot;

  // True when at least one serial (not the slot) is known.
  [[nodiscard]] bool has_serial() const;
  [[nodiscard]] bool empty() const { return !has_serial() && slot.empty(); }
  // "NVMe serial S4EWNX0R123456, DSN 00-11-22-33-44-55-66-77, slot 3"
  // ("DSN ..., VF 2, slot 3" for a VF), or "no serial" when none is known
  // (then with the slot, if any).
  [[nodiscard]] std::string describe() const;
  // The serials only, for messages about a comparison: "NVMe serial X" or
  // "NVMe serial X, DSN Y" ("DSN Y, VF 2" for a VF); "no serial" when none.
  [[nodiscard]] std::string serials() const;
  // The one-line form kept in Kconfig strings and `.config` files:
  // "nvme-serial=S4EW... dsn=00-11-... vf=2 slot=3", fields in this order,
  // each value percent-encoded outside [A-Za-z0-9._:/+-]. "" for an empty
  // identity.
  [[nodiscard]] std::string to_text() const;
  // Reads to_text()'s form. A field this version does not know (a later
  // pcipass's) is skipped. Fails with ExitCode::bad_input on a repeated
  // field, a malformed escape or name, a field without '=', or a `vf` that
  // is not a number below 65536.
  static Result<DeviceIdentity> parse(std::string_view text);
  // {"nvme_serial": ..., "dsn": ..., "mac": ..., "vpd_serial": ..., "vf": 2,
  // "slot": ...}: every field, null when unknown; `vf` a number.
  [[nodiscard]] nlohmann::json to_json() const;
  // Reads to_json()'s form (null or absent fields are unknown). Fails with
  // ExitCode::bad_input naming a field that is not a string or null (for
  // `vf`, not a number below 65536 or null).
  static Result<DeviceIdentity> from_json(const nlohmann::json& json);
  bool operator==(const DeviceIdentity&) const = default;
};

// The identity of an inventory device: its first NVMe controller's serial,
// its DSN, the lowest permanent MAC of its interfaces, its VPD serial and
// its slot. Placeholder values firmware writes when it has no serial (all
// zeros, all ones, "Not Specified", "To Be Filled By O.E.M.", ...) are
// left out: they would make every such device the same.
//
// For a VF, `pf` is its PF (nullptr: the VF's own serials only). The VF
// then takes every serial and the slot it lacks from the PF (they are its
// card's: a VF that has a DSN has the PF's, by the SR-IOV specification)
// and its number, its place among the PF's VFs. Without that, the VFs of
// two identical cards that swapped places would look the same.
DeviceIdentity identity_of(const PciDevice& device, const PciDevice* pf);

// identity_of() with the PF of a VF looked up in `inventory`. What pcipass
// records and compares everywhere a device is chosen.
DeviceIdentity identity_of(const PciDevice& device, const Inventory& inventory);

// What comparing a recorded identity with the one found now says.
enum class IdentityMatch {
  same,       // a serial both know agrees, and none disagrees
  different,  // a serial both know disagrees, or another VF of the same card
  unknown,    // no serial known on both sides: only the ids can tell
};

// Compares the serials both sides know (the slot never counts). One
// disagreeing serial makes the devices different whatever else agrees; so
// does a VF number both know when the serials agree (another VF of the
// same card).
IdentityMatch compare_identity(const DeviceIdentity& recorded, const DeviceIdentity& now);

// What a record of the device at an address holds after `now` was read
// there. `same`: `now`, plus the serials only the record has (an NVMe drive
// on vfio-pci has no controller, so no serial: it stays known). `unknown`:
// the record's serials and `now`'s slot, never `now`'s serials, which
// would vouch for a device nothing proved to be the recorded one (a record
// without serials takes `now`). `different`: `now`.
DeviceIdentity carried_identity(const DeviceIdentity& recorded, const DeviceIdentity& now);

// The first serial that differs, for messages: "NVMe serial S2, not S1",
// else a VF number ("VF 2, not VF 1"). "" when none differs.
std::string identity_difference(const DeviceIdentity& recorded, const DeviceIdentity& now);

// The addresses of `inventory` whose device compares `same` with `recorded`,
// in address order (empty when `recorded` has no serial). Only functions
// with the function number of `recorded_at` and the VF number of `recorded`
// (none for a function that is no VF) count: the functions of one card
// share its DSN, a card that moves keeps its function numbers, and its VFs
// keep their numbers.
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
