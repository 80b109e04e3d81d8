#pragma once

// Which machine a run's devices belong to. Two hosts built alike (one
// model, one disk layout, one installation image) show the same devices at
// the same addresses: a usage report of one (`--host-usage FILE`) would call
// the other's boot disk free, and a journal kept for a libvirt URI would be
// applied to whatever machine that URI reaches today. A host's identity --
// its name, its systemd machine id, its firmware's (SMBIOS) system UUID and
// libvirt's host UUID -- tells them apart. Each field is known on some
// sides only, so two identities are compared field by field, and only
// where both sides know the field (docs/architecture.md, "Host identity").

#include <pcipass/core/error.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

struct HostIdentity {
  // The host's name as the kernel has it, "" when unknown. Generic names
  // every fresh installation has ("localhost", "localhost.localdomain")
  // count as unknown: they tell no host from another.
  std::string hostname;
  // /etc/machine-id: 32 lowercase hex digits, "" when unknown.
  std::string machine_id;
  // The firmware's system UUID (SMBIOS type 1), lowercase
  // 8-4-4-4-12; "" when unknown or a placeholder (all zeros, all ones, the
  // sequence 03000200-0400-0500-0006-000700080009 many boards ship).
  std::string system_uuid;
  // The UUID libvirt gives the host (capabilities <host><uuid>). libvirt
  // takes it from SMBIOS, from /etc/machine-id (host_uuid_source), from its
  // configuration, or makes up a new one at each start when the firmware
  // has none: so it only ever confirms a host, never tells two apart.
  std::string libvirt_uuid;

  [[nodiscard]] bool empty() const {
    return hostname.empty() && machine_id.empty() && system_uuid.empty() && libvirt_uuid.empty();
  }
  // "host 'lab1', machine id 3d12..., system UUID 4c4c...", or "no identity".
  [[nodiscard]] std::string describe() const;
  // {"hostname": ..., "machine_id": ..., "system_uuid": ..., "libvirt_uuid": ...},
  // null for unknown fields.
  [[nodiscard]] nlohmann::json to_json() const;
  // Reads to_json()'s form; null or absent fields are unknown, and values
  // are normalised as the functions below do (an invalid UUID is unknown).
  // Fails with ExitCode::bad_input naming a field that is not a string or
  // null, or a hostname that is not a host name.
  static Result<HostIdentity> from_json(const nlohmann::json& json);
  bool operator==(const HostIdentity&) const = default;
};

// The normal forms; "" for text that is not one (or is a placeholder).
// A hostname is trimmed and lowercased; generic names, and text that is not
// a host name (only letters, digits, '-', '_' and dots between labels),
// give "".
std::string normal_hostname(std::string_view text);
// 32 hex digits, surrounding white space allowed.
std::string normal_machine_id(std::string_view text);
// 8-4-4-4-12 hex digits (or 32 without dashes), any case, surrounding white
// space allowed.
std::string normal_uuid(std::string_view text);

// How two identities of what should be one host compare.
struct HostComparison {
  enum class Verdict {
    same,       // a field both know agrees, and none disagrees
    different,  // a field both know disagrees: two machines
    unknown,    // no field is known on both sides
  };
  Verdict verdict = Verdict::unknown;
  // For `different`: each field that disagrees, "hostname 'lab1' and 'lab2'".
  std::vector<std::string> differences;
  // For `same`: the fields that agree, "hostname 'lab1'".
  std::vector<std::string> agreements;
};

// Compares the hostname (the full names when both sides know one, else the
// first label only, as one side may know only the short name), the machine id and the system UUID where both know
// them. libvirt's host UUID, which libvirt may have made up, only ever
// agrees: with the other side's libvirt UUID, system UUID or machine id.
HostComparison compare_hosts(const HostIdentity& a, const HostIdentity& b);

// The host UUID in libvirt's capabilities XML (<capabilities><host><uuid>),
// normalised; "" when absent or not XML.
std::string capabilities_host_uuid(std::string_view capabilities_xml);
// The system UUID in libvirt's sysinfo XML
// (<sysinfo type='smbios'><system><entry name='uuid'>), normalised; "" when
// absent or not XML.
std::string sysinfo_system_uuid(std::string_view sysinfo_xml);

}  // namespace pcipass::core
