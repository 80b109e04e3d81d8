#include <pcipass/core/kdevops_files.hpp>

#include <pcipass/core/text.hpp>

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <vector>

namespace pcipass::core {

namespace {

std::string finish(const YAML::Emitter& out) {
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

// The line at column 0 that starts top-level `key:` (plain or quoted).
bool starts_key(std::string_view line, std::string_view key) {
  for (const std::string quote : {"", "\"", "'"}) {
    const std::string head = quote + std::string(key) + quote + ":";
    if (line.starts_with(head) &&
        (line.size() == head.size() || line[head.size()] == ' ' || line[head.size()] == '\t' ||
         line[head.size()] == '\r')) {
      return true;
    }
  }
  return false;
}

// True when `line` continues the value of the top-level key above it: blank,
// indented, or a block sequence item at column 0 (`- x`, which YAML allows
// under a mapping key).
bool continues_value(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return true;
  if (line[0] == ' ' || line[0] == '\t') return true;
  return line == "-" || line.starts_with("- ");
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The lines of `text`, each with its `\n` (the last may lack one).
std::vector<std::string_view> lines_with_ends(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::string_view without_end(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

// Every top-level key but `skip`, dumped, for comparing two documents;
// `skip`'s own value goes under the empty key.
Result<std::map<std::string, std::string>> other_keys(std::string_view text,
                                                      std::string_view source_name,
                                                      std::string_view skip) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(std::string(source_name) + ": not YAML (" + e.msg + " at line " +
                    std::to_string(e.mark.line + 1) + "); pcipass replaces only its own key in "
                    "an extra-vars file and leaves it as it is",
                ExitCode::bad_input);
  }
  std::map<std::string, std::string> out;
  if (doc.IsNull()) return out;
  if (!doc.IsMap()) {
    return fail(std::string(source_name) +
                    ": not a YAML mapping of variables; pcipass leaves it as it is",
                ExitCode::bad_input);
  }
  std::set<std::string> seen;
  for (const auto& entry : doc) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : YAML::Dump(entry.first);
    // A key twice is an error for Ansible with DUPLICATE_YAML_DICT_KEY=error,
    // and one of the two values would be lost: never written.
    if (!seen.insert(key).second) {
      return fail(std::string(source_name) + ": it holds " + key +
                      " twice; pcipass leaves it as it is",
                  ExitCode::bad_input);
    }
    out[key == skip ? std::string() : key] = YAML::Dump(entry.second);
  }
  return out;
}

}  // namespace

Result<std::string> merge_kdevops_extra_vars(std::string_view existing, const Assignment& plan,
                                             std::string_view source_name) {
  const std::string ours = kdevops_extra_vars(plan);
  auto before = other_keys(existing, source_name, k_extra_vars_key);
  if (!before) return fail(before.error());
  auto expected = other_keys(ours, source_name, k_extra_vars_key);
  if (!expected) return fail(expected.error());
  before->erase(std::string());
  (*before)[std::string()] = (*expected)[std::string()];

  const std::vector<std::string_view> lines = lines_with_ends(existing);
  std::string merged;
  bool replaced = false;
  for (std::size_t i = 0; i < lines.size();) {
    if (!starts_key(without_end(lines[i]), k_extra_vars_key)) {
      merged += lines[i++];
      continue;
    }
    const auto refuse = [&](const std::string& why) {
      return fail(std::string(source_name) + ": " + why + "; pcipass leaves it as it is",
                  ExitCode::bad_input);
    };
    if (replaced) return refuse("it holds " + std::string(k_extra_vars_key) + " twice");
    // The value runs over the continuation lines; blank lines at its end
    // belong to what follows.
    std::size_t end = i + 1;
    std::size_t last = i + 1;
    while (end < lines.size() && continues_value(without_end(lines[end]))) {
      ++end;
      if (!is_blank(lines[end - 1])) last = end;
    }
    merged += ours;
    replaced = true;
    i = last;
  }
  if (!replaced) {
    if (!merged.empty() && merged.back() != '\n') merged += '\n';
    merged += ours;
  }
  auto after = other_keys(merged, source_name, k_extra_vars_key);
  if (!after || *after != *before) {
    return fail(std::string(source_name) +
                    ": cannot replace " + std::string(k_extra_vars_key) +
                    " line by line without changing other keys (flow style?); pcipass leaves "
                    "it as it is (write the list to another file)",
                ExitCode::bad_input);
  }
  return merged;
}

std::string kdevops_extra_vars(const Assignment& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "pcie_passthrough_devices" << YAML::Value << YAML::BeginSeq;
  for (const GuestAssignment& guest : plan.guests) {
    for (const AssignedDevice& device : guest.devices) {
      const PciAddress& a = device.address;
      out << YAML::BeginMap;
      out << YAML::Key << "domain" << YAML::Value << YAML::DoubleQuoted << hex(a.domain, 4);
      out << YAML::Key << "bus" << YAML::Value << YAML::DoubleQuoted << hex(a.bus, 2);
      out << YAML::Key << "slot" << YAML::Value << YAML::DoubleQuoted << hex(a.slot, 2);
      out << YAML::Key << "function" << YAML::Value << YAML::DoubleQuoted << hex(a.function, 1);
      out << YAML::Key << "pcie_id" << YAML::Value << YAML::DoubleQuoted << a.to_string();
      out << YAML::Key << "iommu_group" << YAML::Value << YAML::DoubleQuoted
          << std::to_string(device.iommu_group);
      out << YAML::Key << "sdevice" << YAML::Value << YAML::DoubleQuoted
          << sanitize_untrusted(device.sdevice);
      out << YAML::Key << "pcie_human_name" << YAML::Value << YAML::DoubleQuoted
          << sanitize_untrusted(device.kdevops_name.empty() ? device.name : device.kdevops_name);
      out << YAML::Key << "target_guest" << YAML::Value << YAML::DoubleQuoted << guest.guest;
      out << YAML::EndMap;
    }
  }
  out << YAML::EndSeq << YAML::EndMap;
  return finish(out);
}

std::string kdevops_node_entries(const Assignment& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "guestfs_nodes" << YAML::Value << YAML::BeginSeq;
  for (const GuestAssignment& guest : plan.guests) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted
        << guest.guest;
    out << YAML::Key << "pcipassthrough" << YAML::Value << YAML::BeginMap;
    std::size_t index = 0;
    for (const AssignedDevice& device : guest.devices) {
      const std::string key = "passthrough" + std::to_string(++index);
      const PciAddress& a = device.address;
      out << YAML::Key << YAML::DoubleQuoted << key << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "domain" << YAML::Value << hex(a.domain, 4);
      out << YAML::Key << "bus" << YAML::Value << hex(a.bus, 2);
      out << YAML::Key << "slot" << YAML::Value << hex(a.slot, 2);
      out << YAML::Key << "function" << YAML::Value << hex(a.function, 1);
      // What tells it from a twin: plan --nodes refuses another device here.
      if (device.identity.has_serial()) {
        out << YAML::Key << "identity" << YAML::Value << YAML::DoubleQuoted
            << device.identity.to_text();
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return finish(out);
}

GuestDeviceRouting route_guest_devices(std::string_view guest, const GuestAssignment* planned,
                                       const std::vector<KdevopsDeviceFile>& files) {
  GuestDeviceRouting out;
  const std::string name = quote_for_message(guest);
  std::map<PciAddress, const KdevopsDeviceFile*> attached;
  for (const KdevopsDeviceFile& file : files) {
    const std::string address = file.address.to_string();
    bool planned_here = false;
    if (planned) {
      for (const AssignedDevice& device : planned->devices)
        planned_here = planned_here || device.address == file.address;
    }
    if (!planned_here) {
      out.problems.push_back(
          file.path + " would attach " + address + " to guest " + name + ", which " +
          (planned ? "the plan does not give that device" : "gets no device in the plan") +
          ": a file an earlier make left behind? Remove it, or run make again to write the "
          "guests' files from the current .config");
      continue;
    }
    const auto [it, inserted] = attached.emplace(file.address, &file);
    if (!inserted) {
      out.problems.push_back(file.path + " and " + it->second->path + " both attach " + address +
                             " to guest " + name + ": kdevops' second attach would fail");
      continue;
    }
    out.route.by_kdevops.push_back(file);
  }
  if (planned) {
    for (const AssignedDevice& device : planned->devices) {
      if (!attached.contains(device.address)) out.route.by_pcipass.push_back(device.address);
    }
  }
  return out;
}

}  // namespace pcipass::core
