#include <pcipass/host/host_identity.hpp>

#include "libvirt_handles.hpp"

namespace pcipass::host {

namespace {

std::string read_or_empty(const Sysfs& tree, std::string_view path) {
  constexpr std::size_t k_most = 256;  // each of these files is one short line
  auto text = tree.read(path, k_most);
  return text ? *text : std::string();
}

}  // namespace

core::HostIdentity read_local_identity(const Sysfs& sysfs, const Sysfs& proc, const Sysfs* etc) {
  core::HostIdentity identity;
  identity.hostname = core::normal_hostname(read_or_empty(proc, "sys/kernel/hostname"));
  if (etc != nullptr) identity.machine_id = core::normal_machine_id(read_or_empty(*etc, "machine-id"));
  identity.system_uuid = core::normal_uuid(read_or_empty(sysfs, "class/dmi/id/product_uuid"));
  return identity;
}

core::HostIdentity read_libvirt_identity(const LibvirtConnection& connection) {
  core::HostIdentity identity;
  virConnectPtr raw = connection.raw();
  if (raw == nullptr) return identity;
  if (const LibvirtString name(virConnectGetHostname(raw)); name.get() != nullptr)
    identity.hostname = core::normal_hostname(name.get());
  if (const LibvirtString xml(virConnectGetCapabilities(raw)); xml.get() != nullptr)
    identity.libvirt_uuid = core::capabilities_host_uuid(xml.get());
  if (const LibvirtString xml(virConnectGetSysinfo(raw, 0)); xml.get() != nullptr)
    identity.system_uuid = core::sysinfo_system_uuid(xml.get());
  return identity;
}

}  // namespace pcipass::host
