#include <pcipass/host/domain_file.hpp>

#include <pcipass/host/atomic_file.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
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

core::Result<DomainFileEdit> edit_domain_file(
    const std::filesystem::path& path, const std::function<core::Status(core::DomainXml&)>& edit,
    DryRun dry_run) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail("reading " + path.string() + ": " + std::strerror(errno), ExitCode::bad_input);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in) {
    return fail("reading " + path.string() + ": " + std::strerror(errno), ExitCode::bad_input);
  }
  DomainFileEdit result;
  result.before = buffer.str();
  auto document = core::DomainXml::parse(result.before);
  if (!document) return fail(document.error().with_context(path.string()));
  if (auto s = edit(*document); !s) return fail(s.error().with_context(path.string()));
  result.after = document->to_string();
  if (!result.changed() || dry_run == DryRun::yes) return result;
  // The rename of an atomic write replaces a file whatever its mode, and root
  // ignores modes anyway: a file nobody may write is the user saying "keep".
  if ((st.st_mode & 0222) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail("writing " + path.string() + ": the file is read-only (mode " + mode +
                    "); make it writable (chmod u+w) for pcipass to edit it",
                ExitCode::host_error);
  }

  std::filesystem::path backup = path;
  backup += k_backup_suffix;
  if (auto s = write_like(backup, result.before, st); !s) return fail(s.error());
  if (auto s = write_like(path, result.after, st); !s) return fail(s.error());
  return result;
}

}  // namespace pcipass::host
