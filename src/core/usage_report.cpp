#include <pcipass/core/usage_report.hpp>

#include <pcipass/core/actions.hpp>
#include <pcipass/core/inventory_json.hpp>
#include <pcipass/core/text.hpp>

#include <nlohmann/json.hpp>

namespace pcipass::core {

namespace {

Error bad(const std::string& what) {
  return Error{"host usage report: " + what + " (expected the output of pcipass list --json, "
                                              "run on that host without filters)",
               ExitCode::bad_input};
}

// "0x1b96" or null; false for anything else.
bool read_id(const nlohmann::json& value, std::optional<std::uint16_t>& out) {
  if (value.is_null()) return true;
  if (!value.is_string()) return false;
  const std::string text = value.get<std::string>();
  if (text.size() != 6 || !text.starts_with("0x")) return false;
  const auto number = parse_hex(std::string_view(text).substr(2));
  if (!number || *number > 0xffff) return false;
  out = static_cast<std::uint16_t>(*number);
  return true;
}

std::string ids_text(const std::optional<std::uint16_t>& vendor,
                     const std::optional<std::uint16_t>& device) {
  if (!vendor || !device) return "unknown ids";
  return DeviceIds{*vendor, *device}.to_string();
}

}  // namespace

Result<UsageReport> parse_usage_report(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(bad("not a JSON object"));
  const auto schema = doc.find("schema");
  if (schema == doc.end() || !schema->is_number_integer() ||
      schema->get<std::int64_t>() != k_json_schema_version) {
    return fail(bad("schema is not " + std::to_string(k_json_schema_version)));
  }
  const auto devices = doc.find("devices");
  if (devices == doc.end() || !devices->is_array()) return fail(bad("no devices array"));
  UsageReport report;
  if (const auto source = doc.find("source"); source != doc.end() && source->is_string())
    report.source = sanitize_untrusted(source->get<std::string>());
  if (const auto host = doc.find("host"); host != doc.end() && !host->is_null()) {
    auto identity = HostIdentity::from_json(*host);
    if (!identity) return fail(bad(identity.error().message));
    report.host = std::move(*identity);
  }
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const nlohmann::json& d = (*devices)[i];
    const std::string where = "devices[" + std::to_string(i) + "]";
    if (!d.is_object()) return fail(bad(where + " is not an object"));
    const auto address_field = d.find("address");
    if (address_field == d.end() || !address_field->is_string())
      return fail(bad(where + ".address is not a PCI address"));
    const auto address = PciAddress::parse(address_field->get<std::string>());
    if (!address) return fail(bad(where + ".address is not a PCI address"));
    const std::string label = where + " (" + address->to_string() + ")";
    ReportedDevice device;
    if (!read_id(d.value("vendor_id", nlohmann::json()), device.vendor_id) ||
        !read_id(d.value("device_id", nlohmann::json()), device.device_id)) {
      return fail(bad(label + ": vendor_id or device_id is not \"0xHHHH\" or null"));
    }
    if (const auto identity = d.find("identity"); identity != d.end()) {
      auto parsed = DeviceIdentity::from_json(*identity);
      if (!parsed) return fail(bad(label + ": " + parsed.error().message));
      device.identity = std::move(*parsed);
    }
    const auto uses = d.find("host_uses");
    if (uses == d.end() || !uses->is_array()) return fail(bad(label + ": no host_uses array"));
    for (const nlohmann::json& use : *uses) {
      if (!use.is_string()) return fail(bad(label + ": host_uses holds a non-string"));
      device.host_uses.push_back(sanitize_untrusted(use.get<std::string>()));
    }
    const auto unknown = d.find("host_usage_unknown");
    if (unknown == d.end() || !(unknown->is_null() || unknown->is_string()))
      return fail(bad(label + ": host_usage_unknown is not a string or null"));
    if (unknown->is_string()) device.host_usage_unknown = sanitize_untrusted(unknown->get<std::string>());
    if (!report.devices.emplace(*address, std::move(device)).second)
      return fail(bad(label + ": the address appears twice"));
  }
  if (report.devices.empty()) return fail(bad("no devices in it"));
  return report;
}

Status apply_usage_report(Inventory& inventory, const UsageReport& report, const std::string& name,
                          const HostIdentity* reached) {
  if (reached != nullptr) {
    const HostComparison hosts = compare_hosts(report.host, *reached);
    if (hosts.verdict == HostComparison::Verdict::different) {
      return fail("refusing the host usage in " + name + ": it was made on another machine (" +
                      join(hosts.differences, "; ") +
                      ": the report's first); run pcipass list --json on the host whose devices "
                      "these are and pass its output",
                  ExitCode::refused);
    }
    if (hosts.verdict == HostComparison::Verdict::unknown) {
      return fail("refusing the host usage in " + name +
                      ": nothing ties it to the host whose devices these are (the report: " +
                      report.host.describe() + "; that host: " + reached->describe() +
                      "); run pcipass list --json there again (it names its host), and give a "
                      "host called localhost a name of its own",
                  ExitCode::refused);
    }
  }
  std::vector<std::string> differences;
  for (const auto& [address, device] : inventory.devices()) {
    const auto it = report.devices.find(address);
    if (it == report.devices.end()) {
      differences.push_back(address.to_string() + ": here, not in the report");
      continue;
    }
    const ReportedDevice& reported = it->second;
    if (device.vendor_id != reported.vendor_id || device.device_id != reported.device_id) {
      differences.push_back(address.to_string() + ": " + ids_text(device.vendor_id, device.device_id) +
                            " here, " + ids_text(reported.vendor_id, reported.device_id) +
                            " in the report");
      continue;
    }
    const DeviceIdentity now = identity_of(device, inventory);
    if (compare_identity(reported.identity, now) == IdentityMatch::different) {
      differences.push_back(address.to_string() + ": another device (" +
                            identity_difference(reported.identity, now) +
                            ": the first here, the second in the report)");
    }
  }
  for (const auto& [address, reported] : report.devices) {
    if (inventory.find(address) == nullptr)
      differences.push_back(address.to_string() + ": in the report, not here");
  }
  if (!differences.empty()) {
    constexpr std::size_t k_shown = 5;
    const std::size_t more = differences.size() > k_shown ? differences.size() - k_shown : 0;
    differences.resize(std::min(differences.size(), k_shown));
    if (more > 0) differences.push_back("... and " + std::to_string(more) + " more");
    return fail("refusing the host usage in " + name +
                    ": it does not describe these devices (another host's report, or one older "
                    "than a hardware change? run pcipass list --json on the host again):\n  " +
                    join(differences, "\n  "),
                ExitCode::refused);
  }
  for (auto& [address, device] : inventory.devices()) {
    const ReportedDevice& reported = report.devices.at(address);
    device.host_uses = reported.host_uses;
    device.host_usage_unknown = reported.host_usage_unknown;
  }
  return ok();
}

}  // namespace pcipass::core
