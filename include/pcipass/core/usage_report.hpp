#pragma once

// Host usage of another host. libvirt's node-device API (and lspci text)
// cannot tell which devices a host needs: its root disk, its network. Run
// on that host, `pcipass list --json` can; its output, read back here as a
// usage report (--host-usage FILE), gives the devices read through libvirt
// the same protection as a local run. A report is used only when it
// describes the very devices read: the same addresses with the same ids and
// no serial that disagrees, so a report of another host (or of hardware
// that changed since) never calls a device free. Twin hosts show the same
// devices, so a report also names the host it was made on (HostIdentity),
// and is used only for a host it matches.

#include <pcipass/core/device_identity.hpp>
#include <pcipass/core/error.hpp>
#include <pcipass/core/host_identity.hpp>
#include <pcipass/core/inventory.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// What the report says about one device.
struct ReportedDevice {
  std::optional<std::uint16_t> vendor_id;
  std::optional<std::uint16_t> device_id;
  DeviceIdentity identity;
  std::vector<std::string> host_uses;
  std::string host_usage_unknown;
};

struct UsageReport {
  std::string source;  // where the reporting run read its devices ("sysfs:/sys")
  HostIdentity host;   // the host it was made on ("host"; empty when absent)
  std::map<PciAddress, ReportedDevice> devices;
};

// Reads `pcipass list --json` output (schema 1). Fails with
// ExitCode::bad_input, naming the field, on anything else: not JSON,
// another schema, a device without a valid address, ids, `host_uses` or
// `host_usage_unknown`, or an address twice.
Result<UsageReport> parse_usage_report(std::string_view text);

// Gives every device of `inventory` the host usage `report` says it has.
// Fails with ExitCode::refused and changes nothing when the report was made
// on another host than `reached` (the host the devices come from, when
// known: a field of both identities disagrees, or none is known on both
// sides) or does not describe these devices (listing up to 5 differences:
// an address one has and the other not, other ids, or a serial both know
// that disagrees). `name` names the report in messages (its path).
Status apply_usage_report(Inventory& inventory, const UsageReport& report, const std::string& name,
                          const HostIdentity* reached);

}  // namespace pcipass::core
