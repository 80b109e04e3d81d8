#pragma once

#include <pcipass/core/pci_address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pcipass::core {

// Whether a function is an endpoint or a bridge, from its config-space header
// type (sysfs) or, where a source has no config space, from its class code.
enum class HeaderKind { endpoint, bridge, unknown };

// An NVMe controller behind a PCI function, as sysfs shows it under `nvme/`.
// `model`, `firmware` and `serial` are written by the drive's firmware:
// untrusted, already passed through sanitize_untrusted().
struct NvmeController {
  std::string name;                     // nvme0
  std::string model;
  std::string firmware;
  std::string serial;
  std::vector<std::string> namespaces;  // nvme0n1, nvme0n2
  bool operator==(const NvmeController&) const = default;
};

// A network interface of a NIC function.
struct NetInterface {
  std::string name;       // enp5s0
  std::string operstate;  // up, down, unknown, ...
  std::string mac = {};   // the address now, lowercase; "" when unknown
  // True when `mac` is the one the card was made with (addr_assign_type 0),
  // not one set by a bond, a script or random assignment.
  bool mac_permanent = false;
  bool operator==(const NetInterface&) const = default;
};

// One PCI function and everything pcipass knows about it. Fields a source
// cannot provide stay empty (std::nullopt / empty string); docs/json.md lists
// which source provides which field.
// Where a GPU's memory size comes from.
enum class MemorySource { driver, prefetchable_bar };

struct PciDevice {
  PciAddress address;

  std::optional<std::uint16_t> vendor_id;
  std::optional<std::uint16_t> device_id;
  std::optional<std::uint16_t> subsystem_vendor_id;
  std::optional<std::uint16_t> subsystem_device_id;
  std::optional<std::uint32_t> class_code;  // 24 bits: base, sub-class, prog-if
  std::optional<std::uint8_t> revision;

  std::string vendor_name;
  std::string device_name;
  std::string subsystem_vendor_name;
  std::string subsystem_name;
  std::string class_name;

  std::string driver;                   // empty when no driver is bound
  std::optional<unsigned> iommu_group;  // nullopt when the host has no IOMMU groups
  std::optional<int> numa_node;         // nullopt when the platform reports none (-1)
  HeaderKind header = HeaderKind::unknown;

  // SR-IOV: the PF of a VF, the VFs of a PF and the PF's VF counts.
  std::optional<PciAddress> physical_function;
  std::vector<PciAddress> virtual_functions;
  std::optional<unsigned> sriov_total_vfs;
  std::optional<unsigned> sriov_num_vfs;

  // Details behind the human name.
  std::vector<NvmeController> nvme;
  std::vector<NetInterface> net;
  // GPU memory: what the driver says (amdgpu), else the largest
  // prefetchable BAR (the window on it; all of it with resizable BAR).
  std::optional<std::uint64_t> memory_bytes;
  MemorySource memory_source = MemorySource::driver;
  bool boot_vga = false;

  // What tells this physical device from a twin of the same model (see
  // device_identity.hpp): the PCIe Device Serial Number, as lspci spells it
  // ("00-11-22-33-44-55-66-77"), the VPD serial, and the label of the
  // physical slot it sits in. "" when the host does not show them.
  std::string dsn;
  std::string vpd_serial;
  std::string slot;

  // How the kernel can reset the function between guests, from sysfs
  // `reset_method` ("flr", "bus", "pm", ...): empty when it has none (no
  // `reset_method` and no `reset` attribute), {"available"} on a kernel
  // older than 5.15 that has `reset` but does not say which method, nullopt
  // when the source cannot tell (lspci text, another host).
  std::optional<std::vector<std::string>> reset_methods;

  std::string human_name;

  // Why the host itself needs this function, e.g. "backs / (ext4 on
  // /dev/vda1)". Empty when the host does not use it.
  std::vector<std::string> host_uses;
  // Why pcipass cannot tell whether the host needs this function, e.g. "/
  // (zfs on rpool/ROOT/pve-1) is traced to no device". Empty when it can.
  // Such a device is never called free: acting on it needs --force, as for
  // one in host_uses.
  std::string host_usage_unknown;

  [[nodiscard]] bool is_bridge() const { return header == HeaderKind::bridge; }
  // True for functions that belong to the platform and never go to a guest:
  // bridges by header type and every bridge class (0x06xx: host, ISA/LPC, ...).
  [[nodiscard]] bool stays_with_platform() const;
  // "endpoint", "bridge", "host-bridge" or "unknown": the kind in listings.
  [[nodiscard]] const char* kind_name() const;
  [[nodiscard]] bool host_in_use() const { return !host_uses.empty(); }
  // True when the host uses this function or may: a plan needs --force for it.
  [[nodiscard]] bool host_may_need() const { return host_in_use() || !host_usage_unknown.empty(); }
  // Why the host needs this function or may, for messages: "used by the
  // host: A; B" or "host usage unknown: WHY"; "" when it is free.
  [[nodiscard]] std::string host_claim() const;
  // The same for a note about going ahead anyway: "0000:2d:00.0 is used by
  // the host (A; B)" or "0000:01:00.0 may be used by the host (host usage
  // unknown: WHY)".
  [[nodiscard]] std::string host_claim_note() const;
  [[nodiscard]] bool on_vfio() const { return driver == "vfio-pci"; }
  // True when sysfs says the kernel has no way to reset this function.
  [[nodiscard]] bool cannot_reset() const { return reset_methods && reset_methods->empty(); }
  // "8086:15f3", or "" when the source did not give ids.
  [[nodiscard]] std::string ids() const;
  // The class code's upper 16 bits (base class and sub-class), or nullopt.
  [[nodiscard]] std::optional<std::uint16_t> class_id() const;
};

// What it means for a guest that a device has no reset (after "ADDRESS has"
// in groups' and plan's notes).
inline constexpr const char* k_no_reset_note =
    "no reset the kernel can use: state stays from one guest to the next and a guest restart may "
    "hang the device; give a guest every function of the card (so a bus reset may work) or reboot "
    "the host between guests";

// Header kind from a class code where no config space is at hand: PCI-to-PCI,
// semi-transparent and CardBus bridges count as bridges.
HeaderKind header_kind_from_class(std::optional<std::uint32_t> class_code);

}  // namespace pcipass::core
