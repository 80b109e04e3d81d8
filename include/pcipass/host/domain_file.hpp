#pragma once

#include <pcipass/core/domain_xml.hpp>
#include <pcipass/core/kdevops_files.hpp>
#include <pcipass/host/dry_run.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace pcipass::host {

// The text of a domain XML file before and after an edit.
struct DomainFileEdit {
  std::string before;
  std::string after;
  [[nodiscard]] bool changed() const { return before != after; }
};

// Suffix of the one backup edit_domain_file() keeps beside the file.
inline constexpr const char* k_backup_suffix = ".pcipass-backup";

// Reads the domain XML file at `path`, lets `edit` change the document and,
// when the text changed and `dry_run` is no, writes it back atomically with
// the file's mode and owner, after saving the previous content as
// PATH.pcipass-backup (one backup, replaced each time). A symbolic link is
// followed: the file it names is edited and the link stays. Runs editing
// one file take turns (an flock on it from the read to the rename), so
// none loses another's change. On any failure the file is as it was.
// Errors: a missing or malformed file ExitCode::bad_input; an unwritable
// one, or one without any write permission bit (the rename would replace
// it, even for root), ExitCode::host_error; a file with several hard links
// (the rename would split them) ExitCode::refused; messages name the path.
core::Result<DomainFileEdit> edit_domain_file(
    const std::filesystem::path& path, const std::function<core::Status(core::DomainXml&)>& edit,
    DryRun dry_run);

// kdevops' per-device files in guest folder `dir`
// (pcie_passthrough_*.xml, core::k_kdevops_device_file_prefix), by name,
// each with the device its <hostdev> attaches. Only regular files count,
// as for kdevops' attach step (a symbolic link is skipped there too). A
// missing folder holds none.
// Errors: an unreadable folder or file ExitCode::host_error; a file that is
// not one PCI <hostdev> ExitCode::bad_input; messages name the path.
core::Result<std::vector<core::KdevopsDeviceFile>> read_kdevops_device_files(
    const std::filesystem::path& dir);

}  // namespace pcipass::host
