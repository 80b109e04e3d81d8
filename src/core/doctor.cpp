#include <pcipass/core/doctor.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/text.hpp>
#include <pcipass/core/text_lines.hpp>

#include <algorithm>
#include <sstream>

namespace pcipass::core {

namespace {

std::optional<std::optional<std::uint64_t>> limit_value(std::string_view word) {
  if (word == "unlimited") return std::optional<std::uint64_t>{};
  const auto value = parse_decimal(word);
  if (!value || *value < 0) return std::nullopt;
  return std::optional<std::uint64_t>{static_cast<std::uint64_t>(*value)};
}

unsigned byte_at(std::string_view bytes, std::size_t at) {
  return static_cast<unsigned char>(bytes[at]);
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::ok: return "OK";
    case Verdict::warn: return "WARN";
    case Verdict::fail: return "FAIL";
  }
  return "FAIL";
}

CpuVendor parse_cpu_vendor(std::string_view cpuinfo) {
  for (std::string_view line : split_lines(cpuinfo)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)) != "vendor_id") continue;
    const std::string_view vendor = trim(line.substr(colon + 1));
    if (vendor == "GenuineIntel") return CpuVendor::intel;
    if (vendor == "AuthenticAMD") return CpuVendor::amd;
    return CpuVendor::unknown;
  }
  return CpuVendor::unknown;
}

std::string iommu_enable_fix(CpuVendor vendor) {
  const char* tail = " to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot";
  switch (vendor) {
    case CpuVendor::intel:
      return std::string("enable VT-d in the firmware setup and add intel_iommu=on iommu=pt") +
             tail;
    case CpuVendor::amd:
      return std::string(
                 "enable AMD-Vi (IOMMU) in the firmware setup and add amd_iommu=on iommu=pt") +
             tail;
    case CpuVendor::unknown: break;
  }
  return std::string(
             "enable VT-d (Intel) or AMD-Vi (AMD) in the firmware setup and add "
             "intel_iommu=on or amd_iommu=on, plus iommu=pt,") +
         tail;
}

std::string iommu_cmdline_flag(std::string_view cmdline) {
  for (std::string_view word : split_fields(trim(cmdline))) {
    if (word == "intel_iommu=on" || word == "amd_iommu=on") return std::string(word);
  }
  return {};
}

std::optional<bool> intel_interrupt_remapping(std::string_view ecap) {
  const auto value = parse_hex(trim(ecap));
  if (!value) return std::nullopt;
  return (*value & 0x8u) != 0;
}

std::optional<MemlockLimit> parse_proc_limits_memlock(std::string_view limits) {
  constexpr std::string_view k_label = "Max locked memory";
  for (std::string_view line : split_lines(limits)) {
    if (!line.starts_with(k_label)) continue;
    const auto words = split_fields(line.substr(k_label.size()));
    if (words.size() < 2) return std::nullopt;
    const auto soft = limit_value(words[0]);
    const auto hard = limit_value(words[1]);
    if (!soft || !hard) return std::nullopt;
    return MemlockLimit{*soft, *hard};
  }
  return std::nullopt;
}

std::vector<MemlockGrant> parse_limits_memlock(std::string_view text) {
  std::vector<MemlockGrant> grants;
  for (std::string_view line : split_lines(text)) {
    line = line.substr(0, line.find('#'));
    const auto words = split_fields(line);
    if (words.size() != 4 || words[2] != "memlock") continue;
    grants.push_back({std::string(words[0]), std::string(words[1]), std::string(words[3])});
  }
  return grants;
}

std::optional<bool> pcie_flr_capable(std::string_view config) {
  if (config.size() < 0x40 || (byte_at(config, 0x06) & 0x10) == 0) return std::nullopt;
  std::size_t at = byte_at(config, 0x34) & 0xfcu;
  for (int hops = 0; hops < 48 && at >= 0x40 && at + 8 <= config.size(); ++hops) {
    if (byte_at(config, at) == 0x10) {
      const std::uint32_t devcap = byte_at(config, at + 4) | byte_at(config, at + 5) << 8 |
                                   byte_at(config, at + 6) << 16 |
                                   static_cast<std::uint32_t>(byte_at(config, at + 7)) << 24;
      return (devcap >> 28 & 1u) != 0;
    }
    at = byte_at(config, at + 1) & 0xfcu;
  }
  return std::nullopt;
}

std::string format_bytes(std::optional<std::uint64_t> bytes) {
  if (!bytes) return "unlimited";
  constexpr const char* k_units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  std::uint64_t value = *bytes;
  std::size_t unit = 0;
  while (unit + 1 < std::size(k_units) && value >= 1024 && value % 1024 == 0) {
    value /= 1024;
    ++unit;
  }
  return std::to_string(value) + " " + k_units[unit];
}

Verdict worst_verdict(const std::vector<DoctorCheck>& checks) {
  Verdict worst = Verdict::ok;
  for (const DoctorCheck& check : checks) worst = std::max(worst, check.verdict);
  return worst;
}

std::string format_doctor(const std::vector<DoctorCheck>& checks) {
  std::ostringstream out;
  for (const DoctorCheck& check : checks) {
    std::string verdict = to_string(check.verdict);
    verdict.resize(6, ' ');
    out << verdict << check.name << ": " << check.detail << "\n";
    if (check.verdict != Verdict::ok && !check.fix.empty()) {
      out << "      fix: " << check.fix << "\n";
    }
  }
  return out.str();
}

nlohmann::json doctor_to_json(const std::vector<DoctorCheck>& checks) {
  nlohmann::json doc{{"schema", k_json_schema_version},
                     {"result", to_string(worst_verdict(checks))}};
  doc["checks"] = nlohmann::json::array();
  for (const DoctorCheck& check : checks) {
    doc["checks"].push_back({{"verdict", to_string(check.verdict)},
                             {"name", check.name},
                             {"detail", check.detail},
                             {"fix", check.fix}});
  }
  return doc;
}

}  // namespace pcipass::core
