// The binary `config` file. lspci decodes capabilities from these bytes, so
// they follow the PCI and PCI Express specifications closely enough for
// `lspci -vvv` to show the Express port type, link, FLR and SR-IOV.
#include "simhost.hpp"

#include <initializer_list>

namespace pcipass::simhost {
namespace {

constexpr unsigned k_pm_cap = 0x40;
constexpr unsigned k_express_cap = 0x60;
constexpr unsigned k_ssvid_cap = 0xa0;
constexpr unsigned k_extended_caps = 0x100;

class Config {
 public:
  explicit Config(std::size_t size) : m_bytes(size, '\0') {}

  void u8(unsigned at, unsigned value) { m_bytes[at] = static_cast<char>(value & 0xff); }
  void u16(unsigned at, unsigned value) {
    u8(at, value);
    u8(at + 1, value >> 8);
  }
  void u32(unsigned at, std::uint32_t value) {
    u16(at, value & 0xffff);
    u16(at + 2, value >> 16);
  }
  Bytes take() { return std::move(m_bytes); }

 private:
  Bytes m_bytes;
};

// Link speed encodings: 1 = 2.5 GT/s, 2 = 5, 3 = 8, 4 = 16, 5 = 32, 6 = 64.
unsigned speed_code(double gts) {
  unsigned code = 1;
  for (double s : {5.0, 8.0, 16.0, 32.0, 64.0}) code += gts >= s ? 1 : 0;
  return code;
}

unsigned port_type_code(PortType type) {
  switch (type) {
    case PortType::endpoint: return 0x0;
    case PortType::legacy_endpoint: return 0x1;
    case PortType::root_port: return 0x4;
    case PortType::upstream: return 0x5;
    case PortType::downstream: return 0x6;
    case PortType::rc_endpoint: return 0x9;
    case PortType::none: break;
  }
  return 0;
}

// 64-bit memory BARs: low dword carries the type bits, high dword the top.
void write_bar(Config& c, unsigned at, std::uint64_t base, bool prefetchable) {
  c.u32(at, static_cast<std::uint32_t>(base & 0xfffffff0) | 0x4 | (prefetchable ? 0x8 : 0));
  c.u32(at + 4, static_cast<std::uint32_t>(base >> 32));
}

void write_express(Config& c, const Device& d, unsigned next) {
  const unsigned at = k_express_cap;
  const bool port = d.pcie == PortType::root_port || d.pcie == PortType::downstream;
  const unsigned speed = speed_code(d.link.speed);
  c.u8(at, 0x10);  // PCI Express capability
  c.u8(at + 1, next);
  c.u16(at + 2,
        0x2 | port_type_code(d.pcie) << 4 | (port ? 0x100 : 0));  // v2, type, slot implemented
  const bool endpoint = d.pcie == PortType::endpoint || d.pcie == PortType::legacy_endpoint ||
                        d.pcie == PortType::rc_endpoint;
  std::uint32_t devcap = 0x1;                   // MaxPayload 256 bytes
  if (endpoint) devcap |= 0x7 << 6 | 0x7 << 9;  // unlimited L0s/L1 acceptable latency
  if (d.flr && endpoint) devcap |= 1u << 28;    // Function Level Reset
  c.u32(at + 0x04, devcap);
  c.u16(at + 0x08, 0x2010);  // DevCtl: relaxed ordering, MaxReadReq 512
  if (d.pcie != PortType::rc_endpoint) {
    const unsigned port_number = port ? d.address.slot : 0;
    c.u32(at + 0x0c,
          speed | d.link.width << 4 | 0x3 << 10 | port_number << 24);  // LnkCap, ASPM L0s L1
    c.u16(at + 0x10, 0x0040);                                          // LnkCtl: common clock
    c.u16(at + 0x12,
          speed | d.link.width << 4 | (port ? 0x2000 : 0) | 0x1000);  // LnkSta, DLActive on ports
  }
  if (port) {
    c.u32(at + 0x14, (d.address.slot & 0x1fff) << 19);  // SltCap: physical slot number
    c.u16(at + 0x1a, 0x0040);                           // SltSta: presence detect
  }
  c.u32(at + 0x24, 0x0000001f);  // DevCap2: completion timeout ranges
  if (d.pcie != PortType::rc_endpoint) {
    c.u32(at + 0x2c, ((1u << speed) - 1) << 1);  // LnkCap2: supported speed vector
    c.u16(at + 0x30, speed);                     // LnkCtl2: target speed
  }
}

// The Device Serial Number capability at `at`, last in the list.
void write_dsn(Config& c, unsigned at, std::uint64_t dsn) {
  c.u32(at, 0x0003 | 1u << 16);  // DSN, version 1, last
  c.u32(at + 4, static_cast<std::uint32_t>(dsn));
  c.u32(at + 8, static_cast<std::uint32_t>(dsn >> 32));
}

void write_sriov(Config& c, const Device& d, unsigned next) {
  const Sriov& s = *d.sriov;
  const unsigned at = k_extended_caps;
  c.u32(at, 0x0010 | 1u << 16 | next << 20);  // SR-IOV, version 1
  c.u32(at + 0x04, 0);
  c.u16(at + 0x08,
        s.num_vfs ? 0x0019 : 0x0010);  // VF Enable + VF MSE when VFs exist; ARI hierarchy
  c.u16(at + 0x0c, s.total_vfs);       // InitialVFs
  c.u16(at + 0x0e, s.total_vfs);
  c.u16(at + 0x10, s.num_vfs);
  c.u16(at + 0x14, s.offset);
  c.u16(at + 0x16, s.stride);
  c.u16(at + 0x1a, s.vf_device);
  c.u32(at + 0x1c, 0x553);  // supported page sizes: 4K..4M
  c.u32(at + 0x20, 0x1);    // system page size 4K
  write_bar(c, at + 0x24, d.iov_base, false);
}

}  // namespace

Bytes config_space(const Device& d) {
  Config c(d.is_pcie() ? 4096 : 256);
  c.u16(0x00, d.vendor);
  c.u16(0x02, d.device);
  c.u16(0x04,
        d.driver.empty() ? 0x0002 : 0x0406);  // memory decode; + bus master, INTx off when bound
  c.u16(0x06, 0x0010);                        // capability list present
  c.u8(0x08, d.revision);
  c.u8(0x09, d.class_code);
  c.u8(0x0a, d.class_code >> 8);
  c.u8(0x0b, d.class_code >> 16);
  c.u8(0x0c, 0x10);  // cache line 64 bytes
  c.u8(0x0e, (d.is_bridge() ? 0x01 : 0x00) | (d.multifunction ? 0x80 : 0x00));
  if (d.is_bridge()) {
    c.u8(0x18, d.address.bus);
    c.u8(0x19, d.secondary);
    c.u8(0x1a, d.subordinate);
    c.u8(0x1c, 0xf0);     // I/O window closed (base > limit)
    c.u16(0x20, 0xfff0);  // memory window closed
    c.u16(0x24, 0xfff1);  // prefetchable window closed, 64-bit
    c.u16(0x26, 0x0001);
  } else {
    // VF BAR registers read as zero on real hardware; the kernel
    // knows their addresses from the PF's SR-IOV capability.
    if (!d.is_vf())
      for (std::size_t i = 0; i < d.bars.size(); ++i)
        write_bar(c, 0x10 + 8 * static_cast<unsigned>(i), d.bars[i].base, d.bars[i].prefetchable);
    c.u16(0x2c, d.subsystem_vendor);
    c.u16(0x2e, d.subsystem_device);
  }
  c.u8(0x34, k_pm_cap);
  c.u8(0x3c, d.irq);
  c.u8(0x3d, d.irq ? 1 : 0);  // INTA# when an IRQ is routed

  // Power management, Express when the device is PCIe, and for bridges
  // with subsystem ids the Subsystem ID capability that holds them.
  const bool ssvid = d.is_bridge() && (d.subsystem_vendor || d.subsystem_device);
  const unsigned after_express = ssvid ? k_ssvid_cap : 0;
  c.u8(k_pm_cap, 0x01);
  c.u8(k_pm_cap + 1, d.is_pcie() ? k_express_cap : after_express);
  c.u16(k_pm_cap + 2, 0x0003);  // PM version 1.2
  c.u16(k_pm_cap + 4, 0x0008);  // D0, No_Soft_Reset
  if (d.is_pcie()) write_express(c, d, after_express);
  if (ssvid) {
    c.u8(k_ssvid_cap, 0x0d);
    c.u16(k_ssvid_cap + 4, d.subsystem_vendor);
    c.u16(k_ssvid_cap + 6, d.subsystem_device);
  }
  // Extended capabilities: SR-IOV at 0x100 (0x40 bytes), then the DSN.
  const unsigned dsn_at = d.sriov ? k_extended_caps + 0x40 : k_extended_caps;
  if (d.sriov) write_sriov(c, d, d.dsn ? dsn_at : 0);
  if (d.dsn) write_dsn(c, dsn_at, *d.dsn);
  return c.take();
}

}  // namespace pcipass::simhost
