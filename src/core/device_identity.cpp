#include <pcipass/core/device_identity.hpp>

#include <pcipass/core/inventory.hpp>
#include <pcipass/core/pci_device.hpp>
#include <pcipass/core/text.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

namespace pcipass::core {

namespace {

// What a field is for in comparisons.
enum class Kind {
  serial,  // compared: one that disagrees makes another device
  vf,      // told apart only among devices whose serials agree
  slot,    // shown, never compared
};

// The fields in the order they are compared and shown, with their text
// keys and the names people read.
struct Field {
  std::string DeviceIdentity::*member;
  const char* key;       // in to_text()
  const char* json_key;  // in to_json()
  const char* label;     // in messages
  Kind kind;
};

constexpr std::array<Field, 6> k_fields = {{
    {&DeviceIdentity::nvme_serial, "nvme-serial", "nvme_serial", "NVMe serial", Kind::serial},
    {&DeviceIdentity::dsn, "dsn", "dsn", "DSN", Kind::serial},
    {&DeviceIdentity::mac, "mac", "mac", "MAC", Kind::serial},
    {&DeviceIdentity::vpd_serial, "vpd-serial", "vpd_serial", "VPD serial", Kind::serial},
    {&DeviceIdentity::vf, "vf", "vf", "VF", Kind::vf},
    {&DeviceIdentity::slot, "slot", "slot", "slot", Kind::slot},
}};

// VF numbers are below 65536 (sriov_totalvfs is 16 bits).
constexpr unsigned k_max_vf = 0xffff;

// Whether `value` is a VF number: decimal, no leading zero, below 65536.
bool is_vf_number(std::string_view value) {
  if (value.empty() || value.size() > 5 || (value.size() > 1 && value.front() == '0')) return false;
  unsigned n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n <= k_max_vf;
}

bool plain(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '/' || c == '+' || c == '-';
}

void append_encoded(std::string& out, std::string_view value) {
  static constexpr char k_digits[] = "0123456789ABCDEF";
  for (char c : value) {
    if (plain(c)) {
      out += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += k_digits[byte >> 4];
    out += k_digits[byte & 0xf];
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sanitised, trimmed and at most k_max_value bytes (cut at a character
// boundary, without sanitize_untrusted's "..."): cleaning a clean value
// changes nothing, so the text and JSON forms read back exactly.
constexpr std::size_t k_max_value = 128;

std::string clean(std::string_view raw) {
  std::string value(trim(sanitize_untrusted(raw)));
  if (value.size() > k_max_value) {
    std::size_t cut = k_max_value;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xc0) == 0x80) --cut;
    value.resize(cut);
    value = std::string(trim(value));
  }
  return value;
}

Result<std::string> decode(std::string_view value, std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%') {
      out += value[i];
      continue;
    }
    const bool room = i + 2 < value.size();
    const int high = room ? hex_digit(value[i + 1]) : -1;
    const int low = room ? hex_digit(value[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return fail("identity field " + std::string(key) + ": a malformed %-escape",
                  ExitCode::bad_input);
    }
    out += static_cast<char>(high << 4 | low);
    i += 2;
  }
  // Decoded text is firmware's text again: it must pass as sanitised.
  return clean(out);
}

std::string list_serials(const DeviceIdentity& id, bool with_slot) {
  std::string out;
  for (const Field& f : k_fields) {
    const std::string& value = id.*f.member;
    if (value.empty() || (f.kind == Kind::slot && !with_slot)) continue;
    if (!out.empty()) out += ", ";
    out += std::string(f.label) + " " + value;
  }
  return out;
}


// A value firmware writes when it has no serial: blank, only zeros or only
// ones (in any spelling: 00-00-..., ff:ff:..., 0000), or a stock phrase.
bool is_placeholder(std::string_view value) {
  const auto only = [&](std::string_view digits) {
    bool any = false;
    for (char c : value) {
      if (c == '-' || c == ':' || c == ' ' || c == '.') continue;
      if (digits.find(c) == std::string_view::npos) return false;
      any = true;
    }
    return any;
  };
  if (value.empty() || only("0") || only("fF")) return true;
  std::string lower;
  for (char c : value) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* stock : {"none", "n/a", "na", "not specified", "default string", "unknown",
                            "to be filled by o.e.m.", "0123456789", "123456789", "serial"}) {
    if (lower == stock) return true;
  }
  return false;
}

// The cleaned value, or "" for a placeholder.
std::string serial_or_nothing(std::string_view raw) {
  std::string value = clean(raw);
  return is_placeholder(value) ? std::string() : value;
}

}  // namespace

bool DeviceIdentity::has_serial() const {
  return !nvme_serial.empty() || !dsn.empty() || !mac.empty() || !vpd_serial.empty();
}

std::string DeviceIdentity::describe() const {
  if (has_serial()) return list_serials(*this, true);
  return slot.empty() ? "no serial" : "no serial, slot " + slot;
}

std::string DeviceIdentity::serials() const {
  return has_serial() ? list_serials(*this, false) : "no serial";
}

std::string DeviceIdentity::to_text() const {
  std::string out;
  for (const Field& f : k_fields) {
    const std::string& value = this->*f.member;
    if (value.empty()) continue;
    if (!out.empty()) out += ' ';
    out += f.key;
    out += '=';
    append_encoded(out, value);
  }
  return out;
}

Result<DeviceIdentity> DeviceIdentity::parse(std::string_view text) {
  DeviceIdentity id;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return fail("identity " + quote_for_message(text) + ": " + quote_for_message(item) +
                      " is not FIELD=VALUE",
                  ExitCode::bad_input);
    }
    const std::string_view key = item.substr(0, equals);
    const Field* field = nullptr;
    for (const Field& f : k_fields) {
      if (key == f.key) field = &f;
    }
    if (field == nullptr) {
      const bool name_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
      if (!name_ok) {
        return fail("identity " + quote_for_message(text) + ": " + quote_for_message(key) +
                        " is not a field name",
                    ExitCode::bad_input);
      }
      continue;  // a later pcipass's field: not ours to judge
    }
    if (!(id.*field->member).empty()) {
      return fail("identity " + quote_for_message(text) + ": field " + std::string(key) +
                      " appears twice",
                  ExitCode::bad_input);
    }
    auto value = decode(item.substr(equals + 1), key);
    if (!value) return fail(value.error());
    if (field->kind == Kind::vf && !is_vf_number(*value)) {
      return fail("identity " + quote_for_message(text) + ": vf " + quote_for_message(*value) +
                      " is not a VF number",
                  ExitCode::bad_input);
    }
    id.*field->member = std::move(*value);
  }
  return id;
}

nlohmann::json DeviceIdentity::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : k_fields) {
    const std::string& value = this->*f.member;
    if (value.empty()) {
      j[f.json_key] = nullptr;
    } else if (f.kind == Kind::vf) {
      // parse() and from_json() let only numbers in.
      j[f.json_key] = is_vf_number(value) ? nlohmann::json(std::stoul(value)) : nlohmann::json(nullptr);
    } else {
      j[f.json_key] = value;
    }
  }
  return j;
}

Result<DeviceIdentity> DeviceIdentity::from_json(const nlohmann::json& json) {
  DeviceIdentity id;
  if (json.is_null()) return id;
  if (!json.is_object()) return fail("identity: expected an object", ExitCode::bad_input);
  for (const Field& f : k_fields) {
    const auto it = json.find(f.json_key);
    if (it == json.end() || it->is_null()) continue;
    if (f.kind == Kind::vf) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
          it->get<std::int64_t>() > k_max_vf) {
        return fail("identity.vf: expected a VF number (0 to 65535) or null", ExitCode::bad_input);
      }
      id.vf = std::to_string(it->get<std::int64_t>());
      continue;
    }
    if (!it->is_string()) {
      return fail("identity." + std::string(f.json_key) + ": expected a string or null",
                  ExitCode::bad_input);
    }
    id.*f.member = clean(it->get<std::string>());
  }
  return id;
}

namespace {

DeviceIdentity own_identity(const PciDevice& device) {
  DeviceIdentity id;
  for (const NvmeController& c : device.nvme) {
    if (id.nvme_serial.empty()) id.nvme_serial = serial_or_nothing(c.serial);
  }
  id.dsn = serial_or_nothing(device.dsn);
  for (const NetInterface& n : device.net) {
    const std::string mac = n.mac_permanent ? serial_or_nothing(n.mac) : std::string();
    if (!mac.empty() && (id.mac.empty() || mac < id.mac)) id.mac = mac;
  }
  id.vpd_serial = serial_or_nothing(device.vpd_serial);
  id.slot = clean(device.slot);
  return id;
}

}  // namespace

DeviceIdentity identity_of(const PciDevice& device, const PciDevice* pf) {
  DeviceIdentity id = own_identity(device);
  if (pf == nullptr || device.physical_function != pf->address) return id;
  const auto& vfs = pf->virtual_functions;
  const auto it = std::find(vfs.begin(), vfs.end(), device.address);
  // Without its number a VF would take serials that match its PF.
  if (it == vfs.end()) return id;
  const DeviceIdentity card = own_identity(*pf);
  for (const Field& f : k_fields) {
    if ((id.*f.member).empty()) id.*f.member = card.*f.member;
  }
  id.vf = std::to_string(it - vfs.begin());
  return id;
}

DeviceIdentity identity_of(const PciDevice& device, const Inventory& inventory) {
  const PciDevice* pf =
      device.physical_function ? inventory.find(*device.physical_function) : nullptr;
  return identity_of(device, pf);
}

IdentityMatch compare_identity(const DeviceIdentity& recorded, const DeviceIdentity& now) {
  bool agreed = false;
  for (const Field& f : k_fields) {
    if (f.kind != Kind::serial) continue;
    const std::string& a = recorded.*f.member;
    const std::string& b = now.*f.member;
    if (a.empty() || b.empty()) continue;
    if (a != b) return IdentityMatch::different;
    agreed = true;
  }
  if (!agreed) return IdentityMatch::unknown;
  // One card, two of its VFs.
  const bool other_vf = !recorded.vf.empty() && !now.vf.empty() && recorded.vf != now.vf;
  return other_vf ? IdentityMatch::different : IdentityMatch::same;
}

DeviceIdentity carried_identity(const DeviceIdentity& recorded, const DeviceIdentity& now) {
  switch (compare_identity(recorded, now)) {
    case IdentityMatch::same: {
      DeviceIdentity out = now;
      for (const Field& f : k_fields) {
        if ((out.*f.member).empty()) out.*f.member = recorded.*f.member;
      }
      return out;
    }
    case IdentityMatch::unknown: {
      if (!recorded.has_serial()) return now;
      DeviceIdentity out = recorded;
      if (!now.slot.empty()) out.slot = now.slot;
      return out;
    }
    case IdentityMatch::different: break;
  }
  return now;
}

std::string identity_difference(const DeviceIdentity& recorded, const DeviceIdentity& now) {
  for (const Field& f : k_fields) {
    if (f.kind != Kind::serial) continue;
    const std::string& a = recorded.*f.member;
    const std::string& b = now.*f.member;
    if (!a.empty() && !b.empty() && a != b) return std::string(f.label) + " " + b + ", not " + a;
  }
  if (!recorded.vf.empty() && !now.vf.empty() && recorded.vf != now.vf)
    return "VF " + now.vf + ", not VF " + recorded.vf;
  return {};
}

std::vector<PciAddress> find_by_identity(const Inventory& inventory, const DeviceIdentity& recorded,
                                         const PciAddress& recorded_at) {
  std::vector<PciAddress> out;
  if (!recorded.has_serial()) return out;
  for (const auto& [address, device] : inventory.devices()) {
    if (address.function != recorded_at.function) continue;
    const DeviceIdentity now = identity_of(device, inventory);
    // A PF and its VFs share the card's serials; VF 1 of a card is not its VF 0.
    if (now.vf != recorded.vf) continue;
    if (compare_identity(recorded, now) == IdentityMatch::same) out.push_back(address);
  }
  return out;
}

std::string parse_vpd_serial(std::string_view vpd) {
  std::size_t at = 0;
  while (at < vpd.size()) {
    const auto tag = static_cast<unsigned char>(vpd[at]);
    if ((tag & 0x80) == 0) {
      // A small resource: name in bits 6..3, length in bits 2..0. 0x0f ends the image.
      if ((tag >> 3) == 0x0f) return {};
      at += 1 + (tag & 0x07);
      continue;
    }
    if (at + 3 > vpd.size()) return {};
    const std::size_t length = static_cast<unsigned char>(vpd[at + 1]) |
                               static_cast<std::size_t>(static_cast<unsigned char>(vpd[at + 2])) << 8;
    const std::size_t data = at + 3;
    if (data + length > vpd.size()) return {};
    if ((tag & 0x7f) == 0x10) {  // VPD-R: keywords of 2 letters, a length byte, the value
      std::size_t k = data;
      while (k + 3 <= data + length) {
        const std::string_view keyword = vpd.substr(k, 2);
        const std::size_t size = static_cast<unsigned char>(vpd[k + 2]);
        if (k + 3 + size > data + length) return {};
        if (keyword == "SN") return clean(vpd.substr(k + 3, size));
        k += 3 + size;
      }
      return {};
    }
    at = data + length;
  }
  return {};
}

std::string format_dsn(std::uint32_t lower, std::uint32_t upper) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", upper >> 24,
                (upper >> 16) & 0xff, (upper >> 8) & 0xff, upper & 0xff, lower >> 24,
                (lower >> 16) & 0xff, (lower >> 8) & 0xff, lower & 0xff);
  return buf;
}

}  // namespace pcipass::core
