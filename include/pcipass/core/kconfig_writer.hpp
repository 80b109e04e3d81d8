#pragma once

// The dynamic half of kdevops' PCI-E passthrough menu: one Kconfig entry per
// device a guest could get, in the symbol scheme of kdevops'
// gen-dynamic-pci.py (docs/kconfig.md lists what matches and what differs).

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/kconfig_numbers.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace pcipass::core {

// The file kdevops' static menu sources, relative to its top folder.
inline constexpr std::string_view k_generated_kconfig_name =
    "Kconfig.passthrough_libvirt.generated";

// The prefix of every generated symbol; candidate N is `<prefix>_000N`.
inline constexpr std::string_view k_passthrough_prefix = "KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH";

// Whether devices the host needs are offered (never by default).
enum class HostDevices { leave_out, include };

struct KconfigOptions {
  HostDevices host_devices = HostDevices::leave_out;
  // Where the inventory came from ("sysfs:/sys"), for the header comment.
  std::string source_label;
  // The numbers the previous generated file gave (kconfig_numbers.hpp);
  // null or empty: numbered like kdevops' generator.
  const NumberLedger* previous = nullptr;
};

// The generated file and what went into it, so the caller can warn.
struct GeneratedKconfig {
  std::string text;
  std::size_t candidates = 0;
  // Endpoints not offered because the host uses them or a member of their
  // IOMMU group (0 with HostDevices::include).
  std::size_t left_out = 0;
  // Of those left out, the ones left out only because the host's usage of
  // them or their group is unknown (no device of the group is known used).
  std::size_t left_out_unknown = 0;
  // Candidates offered although the host uses or may use them or their
  // group, and of those, the ones only whose usage is unknown.
  std::size_t host_used_offered = 0;
  std::size_t host_unknown_offered = 0;
  bool has_iommu_groups = true;
  // Every number the text gives or keeps: what a next run reads back.
  NumberLedger ledger;
  // Numbers whose device went or changed in this run (not before).
  std::vector<NumberRecord> newly_retired;
};

// Writes `Kconfig.passthrough_libvirt.generated` for `inventory`. Candidates
// are the endpoints (PciDevice::stays_with_platform() is false) that have an
// IOMMU group and that the host needs neither themselves nor through a member
// of their group; HostDevices::include offers those too, with a warning in
// their prompt. Numbers follow kconfig_numbers.hpp (kdevops' numbering the
// first time, then kept from `options.previous`); entries come in address
// order and `_NUM_DEVICES` is the highest number offered, so kdevops'
// consumers, which walk 1..NUM_DEVICES, see every entry. Numbers not offered
// are kept in `# number` comment lines, and `_HIGHEST_NUMBER` (outside the
// entries, so every .config records it) is the highest number ever given.
// An unchanged host gives
// byte-identical text. Without IOMMU groups the text holds a visible comment
// saying why nothing can be picked, and no entries.
GeneratedKconfig generate_passthrough_kconfig(const Inventory& inventory,
                                              const KconfigOptions& options);

// The numbers generate_passthrough_kconfig() would give and keep (its
// `ledger`), without writing the text.
NumberLedger passthrough_numbers(const Inventory& inventory, const KconfigOptions& options);

// Receives the generated text piece by piece, in order.
using KconfigSink = std::function<void(std::string_view)>;

// The same text as generate_passthrough_kconfig(), handed to `sink` in
// pieces of about k_sink_chunk bytes instead of returned (`text` stays
// empty): a 4096-function host's 8 MB file is then never held whole.
GeneratedKconfig write_passthrough_kconfig(const Inventory& inventory, const KconfigOptions& options,
                                           const KconfigSink& sink);
inline constexpr std::size_t k_sink_chunk = 64 * 1024;

// An entry's `_SDEVICE`: kdevops' is lspci's `SDevice:` (the subsystem
// name); devices without one fall back to the device name, so no entry is
// left blank. Already kconfig_safe_text().
std::string kconfig_sdevice(const PciDevice& d);

// `KDEVOPS_DYNAMIC_PCIE_PASSTHROUGH_0001` for `number` 1: zero-padded to four
// digits like kdevops' `%04d`, longer past 9999.
std::string passthrough_symbol(std::size_t number);

// Makes a device- or database-supplied string safe to put anywhere in the
// generated file and in everything kdevops later feeds its values through
// (`source .config` in bash, `include .config` in make, `echo` into double
// quoted YAML): sanitize_untrusted(), then `"`, `\`, `$` and `` ` `` become
// their fullwidth forms U+FF02, U+FF3C, U+FF04 and U+FF40.
std::string kconfig_safe_text(std::string_view untrusted);

// A Kconfig string literal, in double quotes, that kconfig-frontends,
// Linux's own kconfig and kconfiglib all read back as `text`, except that
// control characters become spaces, invalid UTF-8 becomes U+FFFD and `$`
// becomes U+FF04: no Kconfig macro or environment reference can form, since
// kconfiglib expands `$VAR` even after a backslash. `"` and `\` are escaped.
std::string kconfig_quote(std::string_view text);

}  // namespace pcipass::core
