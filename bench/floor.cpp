// The naive floor of issue 8: what the simplest program pays to learn, per PCI
// function of a sysfs tree, the attributes a passthrough tool needs. For each
// entry of ROOT/bus/pci/devices it opens and reads `vendor`, `device`,
// `class`, `subsystem_vendor`, `subsystem_device`, `revision` and
// `numa_node`, and reads the `iommu_group` and `driver` links. It prints
// nothing (only a count with -v), so the benchmark times the reads alone.
//
// Usage: pcipass-bench-floor [-v] SYSFS_ROOT

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace {

// Opens, reads and closes one attribute; returns the bytes read (-1 on error).
long read_attribute(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n;
}

long read_link(const std::string& path) {
  char buf[4096];
  return ::readlink(path.c_str(), buf, sizeof buf);
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  int arg = 1;
  if (arg < argc && std::strcmp(argv[arg], "-v") == 0) {
    verbose = true;
    ++arg;
  }
  if (arg + 1 != argc) {
    std::fprintf(stderr, "usage: pcipass-bench-floor [-v] SYSFS_ROOT\n");
    return 2;
  }
  const std::string devices = std::string(argv[arg]) + "/bus/pci/devices/";
  DIR* dir = ::opendir(devices.c_str());
  if (dir == nullptr) {
    std::perror(devices.c_str());
    return 1;
  }
  static const char* const k_attributes[] = {"vendor",           "device",   "class",
                                             "subsystem_vendor", "subsystem_device",
                                             "revision",         "numa_node"};
  long functions = 0;
  long bytes = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string base = devices + entry->d_name + "/";
    for (const char* name : k_attributes) bytes += read_attribute(base + name);
    bytes += read_link(base + "iommu_group");
    bytes += read_link(base + "driver");
    ++functions;
  }
  ::closedir(dir);
  if (verbose) std::printf("%ld functions, %ld bytes\n", functions, bytes);
  return 0;
}
