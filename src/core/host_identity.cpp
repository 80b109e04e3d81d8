#include <pcipass/core/host_identity.hpp>

#include <pcipass/core/text.hpp>

#include <pugixml.hpp>

#include <algorithm>

namespace pcipass::core {
namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The hex digits of `text` lowercased when it is exactly `count` of them
// (dashes at the UUID positions allowed when `dashed`), else "".
std::string hex_digits(std::string_view text, std::size_t count, bool dashed) {
  std::string digits;
  std::size_t dashes = 0;
  for (const char c : text) {
    if (c == '-' && dashed && (digits.size() == 8 || digits.size() == 12 || digits.size() == 16 ||
                               digits.size() == 20)) {
      ++dashes;
      continue;
    }
    if (!is_hex_digit(c)) return "";
    digits += lower(c);
  }
  // Either all four dashes of 8-4-4-4-12 or none.
  if (dashes != 0 && dashes != 4) return "";
  return digits.size() == count ? digits : "";
}

// The first label of a normal hostname: "lab1" for "lab1.example.org".
std::string_view first_label(std::string_view hostname) {
  return hostname.substr(0, hostname.find('.'));
}

std::string shown(const std::string& value) { return "'" + value + "'"; }

// A name every fresh installation has: unknown, but not malformed.
bool normal_hostname_is_generic(std::string_view text) {
  std::string name(trim(text));
  std::transform(name.begin(), name.end(), name.begin(), lower);
  return name.empty() || name == "localhost" || name == "localhost.localdomain" ||
         name == "localhost6" || name == "localhost6.localdomain6" || name == "(none)" ||
         name == "localhost.";
}

}  // namespace

std::string normal_hostname(std::string_view text) {
  std::string name(trim(text));
  std::transform(name.begin(), name.end(), name.begin(), lower);
  if (normal_hostname_is_generic(name)) return "";
  // A host name: letters, digits, '-', '_' and dots between labels, at most
  // 253 bytes. Anything else names no host (and never reaches a message).
  constexpr std::size_t k_longest = 253;
  if (name.empty() || name.size() > k_longest || name.front() == '.' || name.front() == '-' ||
      name.find("..") != std::string::npos) {
    return "";
  }
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '.';
    if (!allowed) return "";
  }
  if (name.back() == '.') name.pop_back();  // the root label of an absolute name
  return name;
}

std::string normal_machine_id(std::string_view text) {
  const std::string digits = hex_digits(trim(text), 32, false);
  if (digits.empty() || digits.find_first_not_of('0') == std::string::npos) return "";
  return digits;
}

std::string normal_uuid(std::string_view text) {
  const std::string digits = hex_digits(trim(text), 32, true);
  if (digits.empty()) return "";
  // All one digit (0000..., ffff...) is what firmware writes when it has
  // no UUID; the counting sequence is a common vendor placeholder.
  if (digits.find_first_not_of(digits[0]) == std::string::npos) return "";
  if (digits == "03000200040005000006000700080009") return "";
  return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" + digits.substr(12, 4) + "-" +
         digits.substr(16, 4) + "-" + digits.substr(20);
}

std::string HostIdentity::describe() const {
  std::vector<std::string> parts;
  if (!hostname.empty()) parts.push_back("host " + shown(hostname));
  if (!machine_id.empty()) parts.push_back("machine id " + machine_id);
  if (!system_uuid.empty()) parts.push_back("system UUID " + system_uuid);
  if (!libvirt_uuid.empty()) parts.push_back("libvirt host UUID " + libvirt_uuid);
  return parts.empty() ? "no identity" : join(parts, ", ");
}

nlohmann::json HostIdentity::to_json() const {
  const auto field = [](const std::string& value) {
    return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
  };
  return {{"hostname", field(hostname)},
          {"machine_id", field(machine_id)},
          {"system_uuid", field(system_uuid)},
          {"libvirt_uuid", field(libvirt_uuid)}};
}

Result<HostIdentity> HostIdentity::from_json(const nlohmann::json& json) {
  if (!json.is_object()) return fail("host identity is not an object", ExitCode::bad_input);
  HostIdentity identity;
  const auto read = [&json](const char* name, std::string& out) -> Status {
    const auto it = json.find(name);
    if (it == json.end() || it->is_null()) return ok();
    if (!it->is_string()) {
      return fail("host identity: " + std::string(name) + " is not a string or null",
                  ExitCode::bad_input);
    }
    out = it->get<std::string>();
    return ok();
  };
  for (auto [name, out] : {std::pair<const char*, std::string*>{"hostname", &identity.hostname},
                           {"machine_id", &identity.machine_id},
                           {"system_uuid", &identity.system_uuid},
                           {"libvirt_uuid", &identity.libvirt_uuid}}) {
    if (auto status = read(name, *out); !status) return fail(status.error());
  }
  const std::string given = identity.hostname;
  identity.hostname = normal_hostname(given);
  if (identity.hostname.empty() && !given.empty() && !normal_hostname_is_generic(given)) {
    return fail("host identity: hostname is not a host name (letters, digits, '-', '_', dots)",
                ExitCode::bad_input);
  }
  identity.machine_id = normal_machine_id(identity.machine_id);
  identity.system_uuid = normal_uuid(identity.system_uuid);
  identity.libvirt_uuid = normal_uuid(identity.libvirt_uuid);
  return identity;
}

HostComparison compare_hosts(const HostIdentity& a, const HostIdentity& b) {
  HostComparison result;
  const auto compare = [&result](const std::string& what, const std::string& x,
                                 const std::string& y, bool equal) {
    if (x.empty() || y.empty()) return;
    if (equal) {
      result.agreements.push_back(what + " " + x);
    } else {
      result.differences.push_back(what + " " + x + " and " + y);
    }
  };
  // Full names where both sides know one (db1.staging and db1.prod are
  // two hosts), else the first label (one side may know only the short name).
  const bool both_full = a.hostname.find('.') != std::string::npos &&
                         b.hostname.find('.') != std::string::npos;
  compare("hostname", a.hostname.empty() ? "" : shown(a.hostname),
          b.hostname.empty() ? "" : shown(b.hostname),
          both_full ? a.hostname == b.hostname
                    : first_label(a.hostname) == first_label(b.hostname));
  compare("machine id", a.machine_id, b.machine_id, a.machine_id == b.machine_id);
  compare("system UUID", a.system_uuid, b.system_uuid, a.system_uuid == b.system_uuid);
  // libvirt's UUID as the other side's libvirt UUID, system UUID or machine id.
  const auto confirms = [](const std::string& uuid, const HostIdentity& other) {
    if (uuid.empty()) return false;
    std::string undashed = uuid;
    std::erase(undashed, '-');
    return uuid == other.libvirt_uuid || uuid == other.system_uuid || undashed == other.machine_id;
  };
  if (confirms(a.libvirt_uuid, b)) result.agreements.push_back("libvirt host UUID " + a.libvirt_uuid);
  else if (confirms(b.libvirt_uuid, a))
    result.agreements.push_back("libvirt host UUID " + b.libvirt_uuid);
  if (!result.differences.empty()) {
    result.verdict = HostComparison::Verdict::different;
  } else if (!result.agreements.empty()) {
    result.verdict = HostComparison::Verdict::same;
  }
  return result;
}


std::string capabilities_host_uuid(std::string_view capabilities_xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(capabilities_xml.data(), capabilities_xml.size())) return "";
  return normal_uuid(doc.child("capabilities").child("host").child("uuid").text().get());
}

std::string sysinfo_system_uuid(std::string_view sysinfo_xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(sysinfo_xml.data(), sysinfo_xml.size())) return "";
  for (const pugi::xml_node sysinfo : doc.children("sysinfo")) {
    for (const pugi::xml_node entry : sysinfo.child("system").children("entry")) {
      if (std::string_view(entry.attribute("name").value()) == "uuid")
        return normal_uuid(entry.text().get());
    }
  }
  return "";
}

}  // namespace pcipass::core
