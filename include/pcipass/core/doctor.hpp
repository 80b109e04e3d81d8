#pragma once

// `pcipass doctor`: the pure half. Parsers for the text the host offers
// (/proc/cpuinfo, /proc/self/limits, limits.conf, intel-iommu ecap, config
// space) and the rendering of check results as text and JSON. The cli half
// gathers the text through Sysfs roots, so tests run it on simulated hosts.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pcipass::core {

// How one check came out; the order is the severity order.
enum class Verdict { ok, warn, fail };

// `OK`, `WARN` or `FAIL`.
const char* to_string(Verdict verdict);

// One doctor check: its name (`iommu`), a one-line detail, and the fix a
// person can apply when the verdict is not OK (empty when there is none).
struct DoctorCheck {
  Verdict verdict = Verdict::ok;
  std::string name;
  std::string detail;
  std::string fix;
};

// The CPU vendor from /proc/cpuinfo's `vendor_id` (GenuineIntel,
// AuthenticAMD); unknown when absent or another vendor.
enum class CpuVendor { intel, amd, unknown };
CpuVendor parse_cpu_vendor(std::string_view cpuinfo);

// The firmware setting and kernel parameters that turn the IOMMU on for
// `vendor`, as one instruction; both vendors' when unknown.
std::string iommu_enable_fix(CpuVendor vendor);

// Whether a kernel command line turns the IOMMU on (`intel_iommu=on` or
// `amd_iommu=on`); returns the matching word, empty when there is none.
std::string iommu_cmdline_flag(std::string_view cmdline);

// The Interrupt Remapping support bit (bit 3) of an intel-iommu `ecap`
// register as sysfs prints it (hex without 0x); nullopt when unparsable.
std::optional<bool> intel_interrupt_remapping(std::string_view ecap);

// A memory-lock limit in bytes; nullopt means unlimited.
struct MemlockLimit {
  std::optional<std::uint64_t> soft;
  std::optional<std::uint64_t> hard;
};

// The `Max locked memory` line of /proc/self/limits (the process's
// RLIMIT_MEMLOCK, as getrlimit reports it); nullopt when the line is missing
// or malformed.
std::optional<MemlockLimit> parse_proc_limits_memlock(std::string_view limits);

// One `memlock` line of a limits.conf file: `<domain> <type> memlock <value>`.
struct MemlockGrant {
  std::string domain;  // user, @group or *
  std::string type;    // soft, hard or -
  std::string value;   // KiB or unlimited/infinity, as written
};
std::vector<MemlockGrant> parse_limits_memlock(std::string_view text);

// Whether the PCI Express capability in config space `config` advertises
// Function Level Reset (DevCap bit 28); nullopt when the bytes hold no
// PCI Express capability.
std::optional<bool> pcie_flr_capable(std::string_view config);

// Bytes in people's units: `8 MiB`, `64 KiB`, `unlimited`.
std::string format_bytes(std::optional<std::uint64_t> bytes);

// The worst verdict of `checks` (ok for none).
Verdict worst_verdict(const std::vector<DoctorCheck>& checks);

// The checks as people read them: `OK    name: detail`, with `      fix: ...`
// under each WARN and FAIL that has one.
std::string format_doctor(const std::vector<DoctorCheck>& checks);

// The `doctor --json` document: {"schema", "result", "checks": [...]}.
nlohmann::json doctor_to_json(const std::vector<DoctorCheck>& checks);

}  // namespace pcipass::core
