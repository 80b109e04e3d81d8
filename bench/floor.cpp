// The floors of issues 8 and 21: what the simplest program pays to learn, per
// PCI function of a sysfs tree, the attributes a passthrough tool needs. For
// each entry of ROOT/bus/pci/devices it opens and reads `vendor`, `device`,
// `class`, `subsystem_vendor`, `subsystem_device`, `revision` and
// `numa_node`, and reads the `iommu_group` and `driver` links. It prints
// nothing (only a count with -v), so the benchmark times the reads alone.
//
// The naive floor (default) names every file by its whole path, so the
// kernel walks it each time. The tight floor (-r, issue 21) opens each
// device folder once and opens the attributes and reads the links relative
// to its descriptor (openat, readlinkat): one path walk per function.
//
// Usage: pcipass-bench-floor [-v] [-r] SYSFS_ROOT

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace {

const char* const k_attributes[] = {"vendor",           "device",           "class",
                                    "subsystem_vendor", "subsystem_device", "revision",
                                    "numa_node"};
const char* const k_links[] = {"iommu_group", "driver"};

// Reads an attribute opened relative to `dir` (AT_FDCWD: `name` is a whole path).
long read_attribute(int dir, const char* name) {
  const int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n;
}

long read_link(int dir, const char* name) {
  char buf[4096];
  return ::readlinkat(dir, name, buf, sizeof buf);
}

// One function, every file by its whole path.
long naive(const std::string& base) {
  long bytes = 0;
  for (const char* name : k_attributes) bytes += read_attribute(AT_FDCWD, (base + name).c_str());
  for (const char* name : k_links) bytes += read_link(AT_FDCWD, (base + name).c_str());
  return bytes;
}

// One function, its folder opened once.
long tight(const std::string& base) {
  const int dir = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  long bytes = 0;
  for (const char* name : k_attributes) bytes += read_attribute(dir, name);
  for (const char* name : k_links) bytes += read_link(dir, name);
  ::close(dir);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  bool relative = false;
  int arg = 1;
  for (; arg < argc && argv[arg][0] == '-'; ++arg) {
    if (std::strcmp(argv[arg], "-v") == 0) {
      verbose = true;
    } else if (std::strcmp(argv[arg], "-r") == 0) {
      relative = true;
    } else {
      break;
    }
  }
  if (arg + 1 != argc) {
    std::fprintf(stderr, "usage: pcipass-bench-floor [-v] [-r] SYSFS_ROOT\n");
    return 2;
  }
  const std::string devices = std::string(argv[arg]) + "/bus/pci/devices/";
  DIR* dir = ::opendir(devices.c_str());
  if (dir == nullptr) {
    std::perror(devices.c_str());
    return 1;
  }
  long functions = 0;
  long bytes = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string base = devices + entry->d_name + "/";
    bytes += relative ? tight(base) : naive(base);
    ++functions;
  }
  ::closedir(dir);
  if (verbose) std::printf("%ld functions, %ld bytes\n", functions, bytes);
  return 0;
}
