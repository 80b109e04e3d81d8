#include <pcipass/host/domain_file.hpp>

#include <pcipass/host/atomic_file.hpp>

#include "unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pcipass::host {

using core::ExitCode;
using core::fail;

namespace {

core::Status write_like(const std::filesystem::path& path, const std::string& content,
                        const struct stat& like) {
  auto file = AtomicFile::create(path, like.st_mode & 0775);
  if (!file) return fail(file.error());
  if (auto s = file->chown(like.st_uid, like.st_gid); !s) return s;
  if (auto s = file->write(content); !s) return s;
  return file->commit();
}

}  // namespace

namespace {

core::Unexpected read_error(const std::filesystem::path& path, int err) {
  return fail("reading " + path.string() + ": " + std::strerror(err), ExitCode::bad_input);
}

}  // namespace

core::Result<DomainFileEdit> edit_domain_file(
    const std::filesystem::path& path, const std::function<core::Status(core::DomainXml&)>& edit,
    DryRun dry_run) {
  // A link to the definition: the file it names is edited, the link kept.
  std::filesystem::path file = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    file = std::filesystem::canonical(path, ec);
    if (ec) {
      return fail("reading " + path.string() + ": a symbolic link to a missing file (" +
                      ec.message() + ")",
                  ExitCode::bad_input);
    }
  }
  // Edits of one file take turns: two runs that each read the file, add their
  // device and rename their text over it would keep only the second device.
  // The lock is on the file's inode, so a run that waited while another
  // replaced the file locks the new one and reads that.
  std::optional<UniqueFd> open;
  for (;;) {
    open.emplace(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (open->get() < 0) return read_error(file, errno);
    if (dry_run == DryRun::no) {
      while (::flock(open->get(), LOCK_EX) != 0) {
        if (errno != EINTR) return read_error(file, errno);
      }
    }
    struct stat now {};
    if (::fstat(open->get(), &st) != 0) return read_error(file, errno);
    if (dry_run == DryRun::yes ||
        (::stat(file.c_str(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)) {
      break;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    return fail("reading " + path.string() + ": not a regular file", ExitCode::bad_input);
  }
  DomainFileEdit result;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(open->get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return read_error(file, errno);
    if (n == 0) break;
    result.before.append(buffer, static_cast<std::size_t>(n));
  }
  auto document = core::DomainXml::parse(result.before);
  if (!document) return fail(document.error().with_context(path.string()));
  if (auto s = edit(*document); !s) return fail(s.error().with_context(path.string()));
  result.after = document->to_string();
  if (!result.changed()) return result;
  // What would stop the write is checked in a dry run too, so that bringup
  // learns of it before it binds anything. The rename of an atomic write
  // replaces a file whatever its mode, and root ignores modes anyway: a file
  // nobody may write is the user saying "keep".
  if ((st.st_mode & 0222) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail("writing " + path.string() + ": the file is read-only (mode " + mode +
                    "); make it writable (chmod u+w) for pcipass to edit it",
                ExitCode::host_error);
  }
  if (st.st_nlink > 1) {
    return fail("writing " + path.string() + ": it has " + std::to_string(st.st_nlink) +
                    " hard links, which replacing it would split; edit a copy",
                ExitCode::refused);
  }
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : ".";
  if (::access(folder.c_str(), W_OK) != 0) {
    return fail("writing " + path.string() + ": its folder " + folder.string() +
                    " is not writable (" + std::strerror(errno) + ")",
                ExitCode::host_error);
  }
  if (dry_run == DryRun::yes) return result;

  std::filesystem::path backup = file;
  backup += k_backup_suffix;
  // The flock keeps other pcipass runs away: leftovers are a killed run's.
  remove_stale_temporaries(file);
  remove_stale_temporaries(backup);
  if (auto s = write_like(backup, result.before, st); !s) return fail(s.error());
  if (auto s = write_like(file, result.after, st); !s) return fail(s.error());
  return result;
}

core::Result<std::vector<core::KdevopsDeviceFile>> read_kdevops_device_files(
    const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      return std::vector<core::KdevopsDeviceFile>{};
    }
    return fail("listing " + dir.string() + ": " + ec.message(), ExitCode::host_error);
  }
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Regular files only, not what a link names: kdevops' attach step finds
    // its files with Ansible's find (file_type: file, links not followed).
    std::error_code type_ec;
    if (name.starts_with(core::k_kdevops_device_file_prefix) && name.ends_with(".xml") &&
        it->symlink_status(type_ec).type() == std::filesystem::file_type::regular) {
      paths.push_back(it->path());
    }
  }
  if (ec) return fail("listing " + dir.string() + ": " + ec.message(), ExitCode::host_error);
  std::sort(paths.begin(), paths.end());
  std::vector<core::KdevopsDeviceFile> files;
  for (const std::filesystem::path& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return fail("reading " + path.string() + ": " + std::strerror(errno), ExitCode::host_error);
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return fail("reading " + path.string() + ": read error", ExitCode::host_error);
    auto address = core::parse_hostdev_file(text.str(), path.string());
    if (!address) return fail(address.error());
    files.push_back({path.string(), *address});
  }
  return files;
}

}  // namespace pcipass::host
