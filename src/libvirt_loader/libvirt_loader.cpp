// libvirt, loaded when pcipass first calls it instead of when pcipass starts.
//
// libvirt.so pulls in some forty libraries (GnuTLS, OpenSSL, GLib, ICU,
// Kerberos, libssh, libcurl...): linked normally, the dynamic loader maps and
// relocates all of them at every start, which cost about 9 MiB of RSS and a
// few milliseconds even for commands that read only sysfs. This file defines
// each libvirt function pcipass's own code calls (src/host/libvirt*.cpp); the
// first call dlopen()s libvirt.so.0 and every definition forwards to the real
// one. Only the pcipass executable links this; the tests link libvirt itself.
// A function missing here is a link error in the pcipass target, never a
// silent fallback.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

namespace {

// pcipass's "host error" exit code (core::ExitCode::host_error).
constexpr int k_host_error = 4;

void* library() {
  static void* handle = [] {
    void* h = ::dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "pcipass: error: loading libvirt: %s (install libvirt0)\n", ::dlerror());
      std::exit(k_host_error);
    }
    return h;
  }();
  return handle;
}

// The real `name` in libvirt.so.0; a libvirt without it ends the process.
void* symbol(const char* name) {
  void* address = ::dlsym(library(), name);
  if (address == nullptr) {
    std::fprintf(stderr, "pcipass: error: loading libvirt: no %s in libvirt.so.0\n", name);
    std::exit(k_host_error);
  }
  return address;
}

// `real<&virFoo>("virFoo")`: the real function, looked up once.
template <auto function>
auto real(const char* name) {
  static const auto address = reinterpret_cast<decltype(function)>(symbol(name));
  return address;
}

// Stands for libvirt's virConnectAuthPtrDefault until libvirt is loaded.
virConnectAuth g_default_auth_placeholder{};

}  // namespace

extern "C" {

#define PCIPASS_FORWARD(name, ...) return real<&name>(#name)(__VA_ARGS__)

// A variable, not a function: callers read it before libvirt is loaded, so it
// holds a placeholder that virConnectOpenAuth swaps for the real default.
virConnectAuthPtr virConnectAuthPtrDefault = &g_default_auth_placeholder;

virConnectPtr virConnectOpenAuth(const char* name, virConnectAuthPtr auth, unsigned int flags) {
  if (auth == &g_default_auth_placeholder) {
    auth = *static_cast<virConnectAuthPtr*>(symbol("virConnectAuthPtrDefault"));
  }
  PCIPASS_FORWARD(virConnectOpenAuth, name, auth, flags);
}

int virInitialize(void) { PCIPASS_FORWARD(virInitialize); }
void virSetErrorFunc(void* data, virErrorFunc handler) { PCIPASS_FORWARD(virSetErrorFunc, data, handler); }
virErrorPtr virGetLastError(void) { PCIPASS_FORWARD(virGetLastError); }
virErrorPtr virConnGetLastError(virConnectPtr conn) { PCIPASS_FORWARD(virConnGetLastError, conn); }
int virConnectClose(virConnectPtr conn) { PCIPASS_FORWARD(virConnectClose, conn); }
char* virConnectGetURI(virConnectPtr conn) { PCIPASS_FORWARD(virConnectGetURI, conn); }
char* virConnectGetHostname(virConnectPtr conn) { PCIPASS_FORWARD(virConnectGetHostname, conn); }
char* virConnectGetCapabilities(virConnectPtr conn) { PCIPASS_FORWARD(virConnectGetCapabilities, conn); }
char* virConnectGetSysinfo(virConnectPtr conn, unsigned int flags) {
  PCIPASS_FORWARD(virConnectGetSysinfo, conn, flags);
}
int virConnectListAllNodeDevices(virConnectPtr conn, virNodeDevicePtr** devices, unsigned int flags) {
  PCIPASS_FORWARD(virConnectListAllNodeDevices, conn, devices, flags);
}
const char* virNodeDeviceGetName(virNodeDevicePtr dev) { PCIPASS_FORWARD(virNodeDeviceGetName, dev); }
char* virNodeDeviceGetXMLDesc(virNodeDevicePtr dev, unsigned int flags) {
  PCIPASS_FORWARD(virNodeDeviceGetXMLDesc, dev, flags);
}
int virNodeDeviceFree(virNodeDevicePtr dev) { PCIPASS_FORWARD(virNodeDeviceFree, dev); }
virNodeDevicePtr virNodeDeviceLookupByName(virConnectPtr conn, const char* name) {
  PCIPASS_FORWARD(virNodeDeviceLookupByName, conn, name);
}
int virNodeDeviceDetachFlags(virNodeDevicePtr dev, const char* driverName, unsigned int flags) {
  PCIPASS_FORWARD(virNodeDeviceDetachFlags, dev, driverName, flags);
}
int virNodeDeviceReAttach(virNodeDevicePtr dev) { PCIPASS_FORWARD(virNodeDeviceReAttach, dev); }
virDomainPtr virDomainLookupByName(virConnectPtr conn, const char* name) {
  PCIPASS_FORWARD(virDomainLookupByName, conn, name);
}
int virDomainFree(virDomainPtr domain) { PCIPASS_FORWARD(virDomainFree, domain); }
int virConnectListAllDomains(virConnectPtr conn, virDomainPtr** domains, unsigned int flags) {
  PCIPASS_FORWARD(virConnectListAllDomains, conn, domains, flags);
}
const char* virDomainGetName(virDomainPtr domain) { PCIPASS_FORWARD(virDomainGetName, domain); }
int virDomainIsActive(virDomainPtr dom) { PCIPASS_FORWARD(virDomainIsActive, dom); }
int virDomainIsPersistent(virDomainPtr dom) { PCIPASS_FORWARD(virDomainIsPersistent, dom); }
char* virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags) {
  PCIPASS_FORWARD(virDomainGetXMLDesc, domain, flags);
}
virDomainPtr virDomainDefineXML(virConnectPtr conn, const char* xml) {
  PCIPASS_FORWARD(virDomainDefineXML, conn, xml);
}
int virDomainAttachDeviceFlags(virDomainPtr domain, const char* xml, unsigned int flags) {
  PCIPASS_FORWARD(virDomainAttachDeviceFlags, domain, xml, flags);
}
int virDomainDetachDeviceFlags(virDomainPtr domain, const char* xml, unsigned int flags) {
  PCIPASS_FORWARD(virDomainDetachDeviceFlags, domain, xml, flags);
}

#undef PCIPASS_FORWARD

}  // extern "C"
