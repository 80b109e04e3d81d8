#include <pcipass/core/actions.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>
#include <cstdio>

namespace pcipass::core {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string device_path(const PciAddress& address, const char* attribute) {
  return "bus/pci/devices/" + address.to_string() + "/" + attribute;
}

Unexpected bad_field(const char* action, const char* field) {
  return fail(
      std::string("journal action ") + action + ": field '" + field + "' missing or malformed",
      ExitCode::bad_input);
}

// Reads string field `field` of `json` into `out`; false when missing or not a string.
bool get_string(const nlohmann::json& json, const char* field, std::string& out) {
  auto it = json.find(field);
  if (it == json.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool get_unsigned(const nlohmann::json& json, const char* field, unsigned& out) {
  auto it = json.find(field);
  if (it == json.end() || !it->is_number_unsigned()) return false;
  out = it->get<unsigned>();
  return true;
}

bool get_address(const nlohmann::json& json, PciAddress& out) {
  std::string text;
  if (!get_string(json, "address", text)) return false;
  auto parsed = PciAddress::parse(text);
  if (!parsed) return false;
  out = *parsed;
  return true;
}

bool get_ids(const nlohmann::json& json, DeviceIds& out) {
  std::string text;
  if (!get_string(json, "expected_ids", text)) return false;
  auto parsed = DeviceIds::parse(text);
  if (!parsed) return false;
  out = *parsed;
  return true;
}

bool get_mode(const nlohmann::json& json, unsigned& out, const char* field = "mode") {
  std::string text;
  if (!get_string(json, field, text) || text.empty() || text.size() > 4) return false;
  unsigned mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  out = mode;
  return true;
}

// " through libvirt at URI" for an action made on another host, else "".
std::string through_libvirt(const std::string& uri) {
  return uri.empty() ? std::string() : " through libvirt at " + sanitize_untrusted(uri);
}

// A device action made through libvirt records the URI and the node device.
void add_through(nlohmann::json& json, const PciAddress& address, const std::string& uri) {
  if (uri.empty()) return;
  json["through"] = uri;
  json["node_device"] = address.libvirt_name();
}

// The optional "through" field: absent is this machine's sysfs (every
// journal written before binding through libvirt); present, a non-empty URI.
bool get_through(const nlohmann::json& json, std::string& out) {
  out.clear();
  if (!json.contains("through")) return true;
  return get_string(json, "through", out) && !out.empty();
}

}  // namespace

std::string DeviceIds::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%04x", vendor, device);
  return buf;
}

std::optional<DeviceIds> DeviceIds::of(const PciDevice& device) {
  if (!device.vendor_id || !device.device_id) return std::nullopt;
  return DeviceIds{*device.vendor_id, *device.device_id};
}

std::optional<DeviceIds> DeviceIds::parse(std::string_view text) {
  if (text.size() != 9 || text[4] != ':') return std::nullopt;
  auto vendor = parse_hex(text.substr(0, 4));
  auto device = parse_hex(text.substr(5));
  if (!vendor || !device || text.substr(0, 4).starts_with("0x") ||
      text.substr(5).starts_with("0x")) {
    return std::nullopt;
  }
  return DeviceIds{static_cast<std::uint16_t>(*vendor), static_cast<std::uint16_t>(*device)};
}

std::vector<SysfsWrite> sysfs_writes(const Action& action) {
  return std::visit(
      Overloaded{
          [](const BindToVfio& a) {
            if (!a.through.empty()) return std::vector<SysfsWrite>{};  // libvirt's to make
            const std::string address = a.address.to_string();
            std::vector<SysfsWrite> writes{
                {device_path(a.address, "driver_override"), k_vfio_driver}};
            if (!a.current_driver.empty()) {
              writes.push_back({"bus/pci/drivers/" + a.current_driver + "/unbind", address});
            }
            writes.push_back({"bus/pci/drivers_probe", address});
            return writes;
          },
          [](const ReleaseDevice& a) {
            if (!a.through.empty()) return std::vector<SysfsWrite>{};  // libvirt's to make
            const std::string address = a.address.to_string();
            std::vector<SysfsWrite> writes;
            const bool on_vfio = a.current_driver == k_vfio_driver;
            if (on_vfio) writes.push_back({"bus/pci/drivers/vfio-pci/unbind", address});
            writes.push_back({device_path(a.address, "driver_override"), "\n"});
            if (!a.restore_driver.empty() && (on_vfio || a.current_driver.empty())) {
              writes.push_back({"bus/pci/drivers_probe", address});
            }
            return writes;
          },
          [](const SetVfCount& a) {
            const std::string path = device_path(a.address, "sriov_numvfs");
            std::vector<SysfsWrite> writes;
            if (a.previous != 0 && a.count != 0 && a.previous != a.count)
              writes.push_back({path, "0"});
            writes.push_back({path, std::to_string(a.count)});
            return writes;
          },
          [](const auto&) { return std::vector<SysfsWrite>{}; },
      },
      action);
}

std::string describe(const Action& action) {
  return std::visit(
      Overloaded{
          [](const LoadModule& a) {
            return "load kernel module " + a.name + " (modprobe " + a.name + ")";
          },
          [](const BindToVfio& a) {
            std::string line = "bind " + a.address.to_string() + " (" + a.expected.to_string() +
                               ", IOMMU group " + std::to_string(a.iommu_group) +
                               ") to vfio-pci, from " +
                               (a.current_driver.empty() ? "no driver" : a.current_driver);
            if (a.restore_driver != a.current_driver) {
              line += "; release gives it back to " +
                      (a.restore_driver.empty() ? std::string("no driver") : a.restore_driver);
            }
            return line + through_libvirt(a.through);
          },
          [](const ReleaseDevice& a) {
            return "release " + a.address.to_string() + " (" + a.expected.to_string() + ") from " +
                   (a.current_driver.empty() ? std::string("no driver") : a.current_driver) +
                   " back to " +
                   (a.restore_driver.empty() ? std::string("no driver") : a.restore_driver) +
                   through_libvirt(a.through);
          },
          [](const ForgetDevice& a) {
            return "forget " + a.address.to_string() + " (" + a.expected.to_string() + "): " +
                   (a.presence == Presence::gone
                        ? std::string(a.through.empty() ? "no longer on this host"
                                                        : "no longer on that host") +
                              ", nothing to give back"
                        : "dropped from the journal on request, the device left as it is") +
                   through_libvirt(a.through);
          },
          [](const WriteFile& a) {
            return "write " + a.path + " (mode " + octal(a.mode) +
                   (a.group.empty() ? std::string() : ", group " + a.group) + ", " +
                   std::to_string(a.bytes.size()) + " bytes)";
          },
          [](const SetPermissions& a) {
            return "set mode " + octal(a.mode) +
                   (a.group.empty() ? std::string() : " and group " + a.group) + " on " + a.path;
          },
          [](const RemoveFile& a) {
            return "remove " + a.path + ", written by pcipass (kept if changed since)";
          },
          [](const RevertPermissions& a) {
            return "set mode " + octal(a.mode) +
                   (a.group.empty() ? std::string() : " and group " + a.group) + " back on " +
                   a.path;
          },
          [](const ForgetFile& a) {
            return "forget " + a.path + ": no earlier mode recorded, the file stays as it is";
          },
          [](const SetVfCount& a) {
            const auto vfs = [](unsigned n) {
              return std::to_string(n) + (n == 1 ? " VF" : " VFs");
            };
            return std::string(a.undo ? "give " : "set ") + a.address.to_string() + " (" +
                   a.expected.to_string() + ")" + (a.undo ? " back its " : " to ") +
                   vfs(a.count) + " (from " + std::to_string(a.previous) + ")";
          },
      },
      action);
}

nlohmann::json action_to_json(const Action& action) {
  return std::visit(
      Overloaded{
          [](const LoadModule& a) {
            return nlohmann::json{{"action", "load-module"}, {"name", a.name}};
          },
          [](const BindToVfio& a) {
            nlohmann::json json{{"action", "bind-to-vfio"},
                                {"address", a.address.to_string()},
                                {"expected_ids", a.expected.to_string()},
                                {"current_driver", a.current_driver},
                                {"restore_driver", a.restore_driver},
                                {"iommu_group", a.iommu_group}};
            // Journals written before identities have none: absent means unknown.
            if (!a.identity.empty()) json["identity"] = a.identity.to_json();
            add_through(json, a.address, a.through);
            return json;
          },
          [](const ReleaseDevice& a) {
            nlohmann::json json{{"action", "release-device"},
                                {"address", a.address.to_string()},
                                {"expected_ids", a.expected.to_string()},
                                {"current_driver", a.current_driver},
                                {"restore_driver", a.restore_driver}};
            add_through(json, a.address, a.through);
            return json;
          },
          [](const ForgetDevice& a) {
            nlohmann::json json{{"action", "forget-device"},
                                {"address", a.address.to_string()},
                                {"expected_ids", a.expected.to_string()}};
            if (a.presence == Presence::may_be_here) json["on_request"] = true;
            add_through(json, a.address, a.through);
            return json;
          },
          [](const WriteFile& a) {
            return nlohmann::json{{"action", "write-file"},
                                  {"path", a.path},
                                  {"bytes", a.bytes},
                                  {"mode", octal(a.mode)},
                                  {"group", a.group}};
          },
          [](const SetPermissions& a) {
            nlohmann::json json{{"action", "set-permissions"},
                                {"path", a.path},
                                {"mode", octal(a.mode)},
                                {"group", a.group}};
            if (a.previous_mode) {
              json["previous_mode"] = octal(*a.previous_mode);
              json["previous_group"] = a.previous_group;
            }
            return json;
          },
          [](const RemoveFile& a) {
            return nlohmann::json{{"action", "remove-file"}, {"path", a.path}, {"bytes", a.bytes}};
          },
          [](const RevertPermissions& a) {
            return nlohmann::json{{"action", "revert-permissions"},
                                  {"path", a.path},
                                  {"mode", octal(a.mode)},
                                  {"group", a.group}};
          },
          [](const ForgetFile& a) {
            return nlohmann::json{{"action", "forget-file"}, {"path", a.path}};
          },
          [](const SetVfCount& a) {
            nlohmann::json json{{"action", "set-vf-count"},
                                {"address", a.address.to_string()},
                                {"expected_ids", a.expected.to_string()},
                                {"driver", a.driver},
                                {"count", a.count},
                                {"previous", a.previous}};
            if (a.undo) json["undo"] = true;
            if (!a.identity.empty()) json["identity"] = a.identity.to_json();
            return json;
          },
      },
      action);
}

Result<Action> action_from_json(const nlohmann::json& json) {
  std::string kind;
  if (!json.is_object() || !get_string(json, "action", kind)) {
    return fail("journal action: field 'action' missing or malformed", ExitCode::bad_input);
  }
  if (kind == "load-module") {
    LoadModule a;
    if (!get_string(json, "name", a.name) || a.name.empty())
      return bad_field("load-module", "name");
    return Action{a};
  }
  if (kind == "bind-to-vfio") {
    BindToVfio a;
    if (!get_address(json, a.address)) return bad_field("bind-to-vfio", "address");
    if (!get_ids(json, a.expected)) return bad_field("bind-to-vfio", "expected_ids");
    if (!get_string(json, "current_driver", a.current_driver))
      return bad_field("bind-to-vfio", "current_driver");
    if (!get_string(json, "restore_driver", a.restore_driver))
      return bad_field("bind-to-vfio", "restore_driver");
    if (!get_unsigned(json, "iommu_group", a.iommu_group))
      return bad_field("bind-to-vfio", "iommu_group");
    if (json.contains("identity")) {
      auto identity = DeviceIdentity::from_json(json["identity"]);
      if (!identity) return bad_field("bind-to-vfio", "identity");
      a.identity = std::move(*identity);
    }
    if (!get_through(json, a.through)) return bad_field("bind-to-vfio", "through");
    return Action{a};
  }
  if (kind == "release-device") {
    ReleaseDevice a;
    if (!get_address(json, a.address)) return bad_field("release-device", "address");
    if (!get_ids(json, a.expected)) return bad_field("release-device", "expected_ids");
    if (!get_string(json, "current_driver", a.current_driver))
      return bad_field("release-device", "current_driver");
    if (!get_string(json, "restore_driver", a.restore_driver))
      return bad_field("release-device", "restore_driver");
    if (!get_through(json, a.through)) return bad_field("release-device", "through");
    return Action{a};
  }
  if (kind == "forget-device") {
    ForgetDevice a;
    if (!get_address(json, a.address)) return bad_field("forget-device", "address");
    if (!get_ids(json, a.expected)) return bad_field("forget-device", "expected_ids");
    if (json.contains("on_request")) {
      if (!json["on_request"].is_boolean()) return bad_field("forget-device", "on_request");
      if (json["on_request"].get<bool>()) a.presence = Presence::may_be_here;
    }
    if (!get_through(json, a.through)) return bad_field("forget-device", "through");
    return Action{a};
  }
  if (kind == "write-file") {
    WriteFile a;
    if (!get_string(json, "path", a.path) || a.path.empty()) return bad_field("write-file", "path");
    if (!get_string(json, "bytes", a.bytes)) return bad_field("write-file", "bytes");
    if (!get_mode(json, a.mode)) return bad_field("write-file", "mode");
    if (!get_string(json, "group", a.group)) return bad_field("write-file", "group");
    return Action{a};
  }
  if (kind == "set-permissions") {
    SetPermissions a;
    if (!get_string(json, "path", a.path) || a.path.empty())
      return bad_field("set-permissions", "path");
    if (!get_mode(json, a.mode)) return bad_field("set-permissions", "mode");
    if (!get_string(json, "group", a.group)) return bad_field("set-permissions", "group");
    if (json.contains("previous_mode")) {
      unsigned previous = 0;
      if (!get_mode(json, previous, "previous_mode"))
        return bad_field("set-permissions", "previous_mode");
      if (!get_string(json, "previous_group", a.previous_group))
        return bad_field("set-permissions", "previous_group");
      a.previous_mode = previous;
    }
    return Action{a};
  }
  if (kind == "remove-file") {
    RemoveFile a;
    if (!get_string(json, "path", a.path) || a.path.empty())
      return bad_field("remove-file", "path");
    if (!get_string(json, "bytes", a.bytes)) return bad_field("remove-file", "bytes");
    return Action{a};
  }
  if (kind == "revert-permissions") {
    RevertPermissions a;
    if (!get_string(json, "path", a.path) || a.path.empty())
      return bad_field("revert-permissions", "path");
    if (!get_mode(json, a.mode)) return bad_field("revert-permissions", "mode");
    if (!get_string(json, "group", a.group)) return bad_field("revert-permissions", "group");
    return Action{a};
  }
  if (kind == "forget-file") {
    ForgetFile a;
    if (!get_string(json, "path", a.path) || a.path.empty()) return bad_field("forget-file", "path");
    return Action{a};
  }
  if (kind == "set-vf-count") {
    SetVfCount a;
    if (!get_address(json, a.address)) return bad_field("set-vf-count", "address");
    if (!get_ids(json, a.expected)) return bad_field("set-vf-count", "expected_ids");
    if (!get_string(json, "driver", a.driver)) return bad_field("set-vf-count", "driver");
    if (!get_unsigned(json, "count", a.count) || a.count > 0xffff)
      return bad_field("set-vf-count", "count");
    if (!get_unsigned(json, "previous", a.previous) || a.previous > 0xffff)
      return bad_field("set-vf-count", "previous");
    if (json.contains("undo")) {
      if (!json["undo"].is_boolean()) return bad_field("set-vf-count", "undo");
      a.undo = json["undo"].get<bool>();
    }
    if (json.contains("identity")) {  // absent in journals written before it was recorded
      auto identity = DeviceIdentity::from_json(json["identity"]);
      if (!identity) return bad_field("set-vf-count", "identity");
      a.identity = std::move(*identity);
    }
    return Action{a};
  }
  return fail("journal action: unknown action " + quote_for_message(kind), ExitCode::bad_input);
}

std::optional<PciAddress> action_address(const Action& action) {
  if (const auto* b = std::get_if<BindToVfio>(&action)) return b->address;
  if (const auto* r = std::get_if<ReleaseDevice>(&action)) return r->address;
  if (const auto* f = std::get_if<ForgetDevice>(&action)) return f->address;
  return std::nullopt;
}

std::string action_through(const Action& action) {
  if (const auto* b = std::get_if<BindToVfio>(&action)) return b->through;
  if (const auto* r = std::get_if<ReleaseDevice>(&action)) return r->through;
  if (const auto* f = std::get_if<ForgetDevice>(&action)) return f->through;
  return "";
}

std::optional<std::string> action_path(const Action& action) {
  return std::visit(
      Overloaded{
          [](const WriteFile& a) { return std::optional<std::string>(a.path); },
          [](const SetPermissions& a) { return std::optional<std::string>(a.path); },
          [](const RemoveFile& a) { return std::optional<std::string>(a.path); },
          [](const RevertPermissions& a) { return std::optional<std::string>(a.path); },
          [](const ForgetFile& a) { return std::optional<std::string>(a.path); },
          [](const auto&) { return std::optional<std::string>(); },
      },
      action);
}

bool is_undo_of_file(const Action& action) {
  return std::holds_alternative<RemoveFile>(action) ||
         std::holds_alternative<RevertPermissions>(action) ||
         std::holds_alternative<ForgetFile>(action);
}

namespace {

// True when `path` is absolute and written the one clean way.
bool is_clean_absolute(std::string_view path) {
  if (!path.starts_with('/')) return false;
  if (path.size() > 1 && path.ends_with('/')) return false;
  std::size_t start = 1;
  while (start <= path.size() && path.size() > 1) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_inside(std::string_view path, std::string_view root) {
  if (root == "/") return true;
  return path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/');
}

std::optional<unsigned> mode_set_by(const Action& action) {
  if (const auto* f = std::get_if<WriteFile>(&action)) return f->mode;
  if (const auto* p = std::get_if<SetPermissions>(&action)) return p->mode;
  if (const auto* r = std::get_if<RevertPermissions>(&action)) return r->mode;
  return std::nullopt;
}

}  // namespace

Status check_confined(const Action& action, const std::vector<std::string>& roots) {
  const auto path = action_path(action);
  // Forgetting touches no file: a copied host may drop another tree's entries.
  if (!path || std::holds_alternative<ForgetFile>(action)) return ok();
  if (!is_clean_absolute(*path)) {
    return fail("refusing to " + describe(action) +
                    ": not a clean absolute path (a journal written by another tool?)",
                ExitCode::refused);
  }
  const bool inside = std::any_of(roots.begin(), roots.end(), [&](const std::string& root) {
    return is_clean_absolute(root) && is_inside(*path, root);
  });
  if (!inside) {
    return fail("refusing to " + describe(action) + ": outside the folders this run may change (" +
                    join(roots, ", ") + "); a journal from another tree?",
                ExitCode::refused);
  }
  if (const auto mode = mode_set_by(action); mode && (*mode & 07002) != 0) {
    return fail("refusing to " + describe(action) + ": mode " + octal(*mode) +
                    " is set-uid, set-gid, sticky or world-writable",
                ExitCode::refused);
  }
  return ok();
}

}  // namespace pcipass::core
