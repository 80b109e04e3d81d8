#pragma once

// Owners of what libvirt hands out, shared by the files of src/host that
// call it: a node device, and a string libvirt allocated.

#include <libvirt/libvirt.h>

#include <cstdlib>
#include <memory>

namespace pcipass::host {

struct NodeDeviceFree {
  void operator()(virNodeDevicePtr device) const { virNodeDeviceFree(device); }
};
using NodeDevice = std::unique_ptr<virNodeDevice, NodeDeviceFree>;

struct MallocFree {
  void operator()(char* text) const { std::free(text); }
};
using LibvirtString = std::unique_ptr<char, MallocFree>;

}  // namespace pcipass::host
