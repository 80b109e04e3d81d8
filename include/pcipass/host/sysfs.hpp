#pragma once

#include <pcipass/core/error.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace pcipass::host {

// A tree of small attribute files rooted at a path: the real `/sys`, a
// simulated host's `sys/`, or `/proc`. Paths are relative to the root
// (`bus/pci/devices`); the interface holds OS operations only, parsing
// belongs to the callers. Errors carry the full path and the OS reason.
class Sysfs {
public:
  static constexpr std::size_t k_unlimited = 16u << 20;
  virtual ~Sysfs() = default;

  // An attribute opened once and read in pieces: config space's header,
  // then each of its extended capabilities, through one open(2).
  class OpenAttribute {
  public:
    virtual ~OpenAttribute() = default;
    // At most `size` bytes from byte `offset` on (fewer at its end).
    [[nodiscard]] virtual core::Result<std::string> read_at(std::size_t offset,
                                                            std::size_t size) = 0;
  };

  // The content of an attribute file, at most `max_bytes` of it (config
  // space is 4 KiB; most callers need its first 64 bytes). Fails with
  // ExitCode::host_error.
  [[nodiscard]] virtual core::Result<std::string> read(std::string_view path,
                                                       std::size_t max_bytes = k_unlimited) const = 0;
  // read(), but nullopt when `path` does not exist: an optional attribute
  // costs one failed open(2), not a listing of its folder to look first.
  // Other errors fail as read() does.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> read_if_present(
      std::string_view path, std::size_t max_bytes = k_unlimited) const;
  // read_link(), but nullopt when `path` does not exist.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> read_link_if_present(
      std::string_view path) const;
  // Opens `path` for read_at() calls. The default reads through this Sysfs
  // each time; RealSysfs keeps one descriptor.
  [[nodiscard]] virtual core::Result<std::unique_ptr<OpenAttribute>> open_attribute(
      std::string_view path) const;
  // Keeps `folder` open, so that reads, links and exists() of the names
  // directly inside it (`folder/NAME`) resolve one name against its
  // descriptor instead of walking the whole path: the inventory keeps each
  // device folder while it reads the device. One folder per thread, until
  // that thread's next keep_folder() or any write(). False when `folder`
  // cannot be opened (or does not exist); the default keeps nothing and
  // answers exists().
  //
  // A whole-host read (read_sysfs_inventory) calls the const members from
  // two threads at once: every implementation must allow that.
  virtual bool keep_folder(std::string_view folder) const { return exists(folder); }
  // At most `size` bytes of an attribute from byte `offset` on (fewer at its
  // end): config space past its header, without reading the 4 KiB before.
  // This default reads from the start; RealSysfs reads only what is asked.
  [[nodiscard]] virtual core::Result<std::string> read_at(std::string_view path, std::size_t offset,
                                                          std::size_t size) const {
    auto all = read(path, offset + size);
    if (!all) return all;
    return all->size() > offset ? all->substr(offset) : std::string();
  }
  // Names of the entries of a directory, unsorted, without `.` and `..`.
  [[nodiscard]] virtual core::Result<std::vector<std::string>> list(std::string_view path) const = 0;
  // The target of a symbolic link, as stored (usually relative).
  [[nodiscard]] virtual core::Result<std::string> read_link(std::string_view path) const = 0;
  // True when `path` exists (following links).
  [[nodiscard]] virtual bool exists(std::string_view path) const = 0;
  // Writes `bytes` to an attribute in one write(2), as the kernel expects.
  [[nodiscard]] virtual core::Status write(std::string_view path, std::string_view bytes) = 0;

  // The path shown to people in messages, e.g. `/sys/bus/pci/drivers_probe`.
  [[nodiscard]] virtual std::string display_path(std::string_view path) const = 0;
  // For a /dev tree: whether the block device node `path` is held open
  // exclusively by someone (an O_EXCL open fails with EBUSY: mounted, swap,
  // a RAID/LVM member, a ZFS vdev). False for anything that is not a block
  // device node or cannot be opened; trees that hold no device nodes (sysfs,
  // simulated hosts) keep this default.
  [[nodiscard]] virtual bool held_exclusively(std::string_view /*path*/) const { return false; }
};

// The Sysfs of a real directory tree: `/sys`, or a simulated host's.
// keep_folder() holds one folder open per thread (on a 4096-function host
// the path walks were most of the kernel's time); write() drops them. Safe
// to call from several threads at once (the inventory reads devices on two,
// the executor binds IOMMU groups concurrently): each thread resolves names
// in its own kept folder, and a path outside it is walked whole. read() of at most a
// page stops at the first short read: the kernel produces a sysfs
// attribute whole in one read, and a regular file (a simulated tree) reads
// short only at its end; that saves the read(2) that would return 0.
class RealSysfs final : public Sysfs {
public:
  explicit RealSysfs(std::filesystem::path root);
  ~RealSysfs() override;
  RealSysfs(const RealSysfs&) = delete;
  RealSysfs& operator=(const RealSysfs&) = delete;

  core::Result<std::string> read(std::string_view path,
                                 std::size_t max_bytes = k_unlimited) const override;
  core::Result<std::string> read_at(std::string_view path, std::size_t offset,
                                    std::size_t size) const override;
  core::Result<std::vector<std::string>> list(std::string_view path) const override;
  core::Result<std::string> read_link(std::string_view path) const override;
  core::Result<std::optional<std::string>> read_if_present(
      std::string_view path, std::size_t max_bytes = k_unlimited) const override;
  core::Result<std::optional<std::string>> read_link_if_present(
      std::string_view path) const override;
  core::Result<std::unique_ptr<OpenAttribute>> open_attribute(
      std::string_view path) const override;
  bool keep_folder(std::string_view folder) const override;
  bool exists(std::string_view path) const override;
  core::Status write(std::string_view path, std::string_view bytes) override;
  std::string display_path(std::string_view path) const override;
  bool held_exclusively(std::string_view path) const override;

  [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

private:
  std::string full(std::string_view path) const;
  // open(2) of an attribute for reading, relative to the kept folder when
  // it holds it: a descriptor, or -1 with errno set.
  int open_for_reading(std::string_view path) const;
  // The contents of the open descriptor `fd` of `path`, or errno.
  core::Result<std::string> read_fd(int fd, std::string_view path, std::size_t max_bytes) const;
  // readlink(2) of `path` into `buf`: its length, or -1 with errno set.
  ssize_t link_target(std::string_view path, char* buf, std::size_t size) const;
  // This thread's kept folder, when it is this tree's, no write came since,
  // and `path` names an entry directly inside it; or -1. `name` is then set
  // to the entry's name.
  int cached_parent(std::string_view path, std::string_view& name) const;
  // `in_folder(dir, name)` when this thread's kept folder holds `path`,
  // else `by_path(full path)`.
  template <class InFolder, class ByPath>
  auto at_path(std::string_view path, InFolder in_folder, ByPath by_path) const;

  std::filesystem::path m_root;
  // Names this tree in the threads' kept folders: never reused, unlike its
  // address.
  const std::uint64_t m_serial;
  std::atomic<std::uint64_t> m_writes{0};  // a kept folder is valid for one value
};

// Joins `base` and a relative link `target` the way the kernel resolves it,
// lexically (`a/b/c` + `../../d` = `a/d`). Sysfs links never point outside
// the tree; a target that climbs above the root yields an empty string.
std::string resolve_link(std::string_view base_dir, std::string_view target);

}  // namespace pcipass::host
