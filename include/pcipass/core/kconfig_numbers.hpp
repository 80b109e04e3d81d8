#pragma once

// The numbers of KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_NNNN: which device each
// one means, kept from one generated file to the next so that a `.config`
// never comes to mean another device.
//
// Identity: a record with ids means the device with those ids at its
// address; one without ids (kdevops' files, lspci text without -nn) the
// device whose `_SDEVICE` reads the same (quotes aside, as kdevops strips
// them); one with neither cannot be checked and never matches. A record
// with serials (`_IDENTITY`, device_identity.hpp) also needs no serial to
// disagree: an identical twin that took the address is another device, and
// the number is retired. A retired number comes back only to a device whose
// ids match it and whose serials do not disagree.
//
// A first file numbers devices as kdevops' generator does (by position among
// the functions lspci shows an `SDevice:` line for, that is, the functions
// with subsystem ids, in address order), so a `.config` made with kdevops
// keeps its devices. From then on the previous file is the record: a device
// keeps its number while it is present with the same ids, a number whose
// device is gone or changed is never given again, and a new device gets a
// number above every number given so far.

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/dot_config.hpp>
#include <pcipass/core/error.hpp>
#include <pcipass/core/inventory.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// What a number was given to, as a generated file records it.
struct NumberRecord {
  std::size_t number = 0;
  PciAddress address;
  std::optional<std::uint16_t> vendor_id;  // absent in kdevops' own files
  std::optional<std::uint16_t> device_id;
  // `_SDEVICE` (kdevops' files have no ids: then it is what tells devices
  // apart), as the file holds it.
  std::string sdevice;
  // `_IDENTITY` (or a `# identity` line): the serials the device had.
  DeviceIdentity identity;
  std::string name;     // `_NAME`, or "" for a number kept in a comment
  bool offered = false;  // an entry of the menu, not a comment line
  // For a number kept in a comment: "not offered", "gone" or "changed" (a
  // device with other ids sits at the address now).
  std::string note;
  std::size_t line = 0;

  // "1b36:0010", or "" without ids.
  [[nodiscard]] std::string ids_text() const;
  // "0000:02:00.0 (1b36:0010)", else "0000:02:00.0 (SDEVICE)", else the
  // address alone.
  [[nodiscard]] std::string describe() const;
};

// Every number a generated file gave, by number.
struct NumberLedger {
  std::map<std::size_t, NumberRecord> records;
  // `_HIGHEST_NUMBER`: the highest number ever given, which may be above
  // every record (a .config holds only the offered entries).
  std::size_t highest_given = 0;
  [[nodiscard]] bool empty() const { return records.empty() && highest_given == 0; }
};

// Reads the numbers out of a generated file, pcipass's or kdevops' own: the
// `_PCI_ID`, `_VENDOR_DEVICE`, `_SDEVICE` and `_IDENTITY` of every entry,
// `_HIGHEST_NUMBER`, and pcipass's `# number NNNN ADDRESS IDS NOTE[ |
// SDEVICE]` lines (each followed by `# identity NNNN TEXT` when the device
// had serials) for numbers given to devices not offered. An empty file gives an empty ledger (kdevops touches one when its
// PCI menu is off). Fails with ExitCode::bad_input and `<source_name> line
// N: <what>` when an entry has no or a malformed address, ids are
// malformed, a number is 0 or given twice, or a field twice: a record
// pcipass cannot read is a record it cannot keep.
Result<NumberLedger> read_number_ledger(std::string_view kconfig_text,
                                        std::string_view source_name);

// The same record out of a `.config`, which holds `_PCI_ID` (and the other
// strings) of every entry of the file it was made with, selected or not,
// whenever passthrough is enabled. Fails like read_number_ledger().
Result<NumberLedger> number_ledger_from_config(const DotConfig& config);

// The numbers for one generated file.
struct Numbering {
  // Every numbered device present, with its number.
  std::map<PciAddress, std::size_t> numbers;
  // The records of numbers whose device is gone or changed: kept, never
  // given again.
  std::vector<NumberRecord> retired;
  // The highest number ever given (0 when none).
  std::size_t highest = 0;
};

// Numbers the devices of `inventory` that `offered` accepts, and every
// device kdevops' generator numbers (functions with subsystem ids), offered
// or not, so that its number stays reserved. With a non-empty `previous`,
// its numbers are kept (see the top of this file); else numbered as kdevops
// does, and offered devices kdevops would not number (no subsystem ids)
// come after the highest kdevops number, in address order.
Numbering number_devices(const Inventory& inventory,
                         const std::function<bool(const PciDevice&)>& offered,
                         const NumberLedger& previous);

// What became of one device a `.config` selects.
struct StaleSelection {
  std::size_t number = 0;
  std::string message;  // the whole story, for a warning or an error
  // True when the number now means another device (a .config made with
  // another numbering): the dangerous case. Otherwise the number is simply
  // no longer offered, and Kconfig drops the selection.
  bool repointed = false;
};

// The devices `choices` selects that `ledger` (the numbering now) no longer
// gives the same number: gone, changed, not offered, or numbered otherwise.
// `config_name` and `ledger_name` are for messages. Each message names the
// device the .config meant and, where the ledger shows it elsewhere, where it
// went. Empty when every selection still means its device.
std::vector<StaleSelection> stale_selections(const PassthroughChoices& choices,
                                             const NumberLedger& ledger,
                                             std::string_view ledger_name);

}  // namespace pcipass::core
