// Fault injection (issue 6): each step of bind, permissions, restore and the
// domain-XML edit of bringup is made to fail in turn with ENOSPC, EACCES,
// EROFS and EIO, on the simulated kernel and in temporary folders. Every
// time the error must be one line naming the path and the OS reason with
// exit code 4, no file may be half-written or leave a temporary behind, the
// journal must parse and hold a pending or failed entry for the failed
// action only, and running again without the fault must end exactly where
// a run that never failed ends.

#include "support/fault_injector.hpp"
#include "support/host_rig.hpp"

#include <pcipass/core/bind_planner.hpp>
#include <pcipass/core/permissions_planner.hpp>
#include <pcipass/core/restore_planner.hpp>
#include <pcipass/core/sriov.hpp>
#include <pcipass/host/domain_file.hpp>
#include <pcipass/host/executor.hpp>
#include <pcipass/host/host_usage.hpp>
#include <pcipass/host/sysfs_source.hpp>

#include <gtest/gtest.h>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;
using test::FaultInjector;

constexpr int k_errors[] = {ENOSPC, EACCES, EROFS, EIO};

constexpr const char* k_zns = "0000:02:00.0";   // workstation: nvme, group 9; laptop: rtsx_pci
constexpr const char* k_hdmi = "0000:2d:00.1";  // workstation: with the boot GPU in group 15

core::PciAddress addr(const char* text) {
  return core::PciAddress::parse(text).value();
}

// A group this process may give its files to: its own primary group.
std::string own_group() {
  const struct group* entry = ::getgrgid(::getgid());
  return entry == nullptr ? std::string() : std::string(entry->gr_name);
}

// Every occurrence of `from` in `text` replaced by `to`.
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The temporary files of atomic writes (`.NAME.pcipass-XXXXXX`) under `root`.
std::vector<std::string> temporaries(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") && name.find(".pcipass-") != std::string::npos)
      found.push_back(entry.path().string());
  }
  return found;
}

using Rig = test::HostRig;

core::Status bind(Rig& rig, std::vector<core::PciAddress> devices, core::Force force,
                  core::GroupExpansion expansion) {
  core::BindRequest request{std::move(devices), force, expansion};
  auto plan = core::plan_bind(rig.inventory(), request, rig.journal().state(), rig.vfio());
  if (!plan) return core::fail(plan.error());
  return rig.run(plan->actions);
}

core::Status open_to_group(Rig& rig) {
  core::PermissionRequest request;
  request.devices = {
      {addr(k_zns), *rig.inventory().find(addr(k_zns))->iommu_group, rig.kernel.driver_of(k_zns)}};
  request.group = own_group();
  request.limit_name = request.group;
  request.sysfs_root = rig.kernel.sys_root().string();
  request.dev_root = rig.kernel.dev_root().string();
  request.etc_root = rig.etc().string();
  auto actions = core::plan_permissions(request);
  if (!actions) return core::fail(actions.error());
  return rig.run(*actions);
}

core::Status restore(Rig& rig) {
  const Journal journal = rig.journal();
  auto files = read_file_states(rig.os, journal.state());
  if (!files) return core::fail(files.error());
  const core::RestorePlan plan =
      core::plan_restore(rig.inventory(), journal.state(), rig.vfio(), *files,
                         core::RestoreRequest{core::Force::no, rig.kernel.sys_root().string()});
  if (!plan.refused.empty()) return core::fail(plan.refused.front(), core::ExitCode::refused);
  rig.keep_going = KeepGoing::yes;  // as `pcipass restore` runs it
  return rig.run(plan.plan.actions);
}

// One flow under test: `setup` brings a fresh rig to where the flow starts
// (never faulted), `run` plans from the rig's state at that moment and
// performs the plan, so calling it again is the user's re-run.
struct Flow {
  std::string host;
  std::function<void(Rig&)> setup;
  std::function<core::Status(Rig&)> run;
};

// Where a run ended, in a form two rigs can compare: the sysfs, dev and
// etc trees, and the journal's entries (their states and actions, sorted;
// ids count runs, and a bind's current_driver is only what planning saw).
struct EndState {
  std::string trees;
  std::string journal;
};

EndState end_state(Rig& rig) {
  EndState end;
  for (const char* part : {"sys", "dev", "etc"}) {
    if (fs::exists(rig.kernel.root() / part))
      end.trees += std::string("[") + part + "]\n" + test::snapshot_tree(rig.kernel.root() / part);
  }
  std::vector<std::string> lines;
  const Journal journal = rig.journal();
  for (const core::JournalEntry& entry : journal.state().entries()) {
    core::Action action = entry.action;
    if (auto* bind = std::get_if<core::BindToVfio>(&action)) bind->current_driver.clear();
    lines.push_back(std::string(core::to_string(entry.state)) + " " +
                    core::action_to_json(action).dump());
  }
  std::sort(lines.begin(), lines.end());
  for (const std::string& line : lines) end.journal += line + "\n";
  const std::string root = rig.kernel.root().string();
  end.trees = replace_all(end.trees, root, "ROOT");
  end.journal = replace_all(end.journal, root, "ROOT");
  return end;
}

// "what path" for each step, with `root` shown as ROOT so that runs in
// different temporary folders compare.
std::vector<std::string> step_names(const std::vector<test::FaultStep>& steps,
                                    const fs::path& root) {
  std::vector<std::string> names;
  for (const test::FaultStep& step : steps)
    names.push_back(step.what + " " + replace_all(step.path, root.string(), "ROOT"));
  return names;
}

// The error of a failed step: one line, the path and the OS reason, exit code 4.
// A run that keeps going (restore) may add a line for each step it did not
// attempt because of that one (the mode of a node whose bind failed).
void expect_clear_error(const core::Error& failure, const test::FaultStep& failed, int error) {
  std::string message = failure.message;
  const std::string header = " steps failed:\n";
  if (const std::size_t at = message.find(header); at != std::string::npos) {
    std::vector<std::string> own;
    std::istringstream lines(message.substr(at + header.size()));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(": not attempted, binding ") == std::string::npos) own.push_back(line);
    }
    ASSERT_EQ(own.size(), 1u) << message;
    ASSERT_TRUE(own.front().starts_with("  ")) << message;
    message = own.front().substr(2);
  }
  EXPECT_EQ(failure.code, core::ExitCode::host_error) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(failed.path), std::string::npos) << message;
  EXPECT_TRUE(message.ends_with(std::string(": ") + std::strerror(error))) << message;
}

// The journal parses and holds no pending or failed entry but, at most, the
// one of the action that failed (none when recording it was what failed).
void expect_consistent_journal(Rig& rig, const core::Status& result) {
  ASSERT_FALSE(result);
  auto journal = Journal::load(rig.os, rig.state());
  ASSERT_TRUE(journal) << journal.error().message;
  std::size_t unfinished = 0;
  for (const core::JournalEntry& entry : journal->state().entries()) {
    if (entry.state == core::EntryState::done) continue;
    ++unfinished;
    // Before the first action (creating a folder for a file) nothing is
    // recorded; a run that stops fails at its last action, one that keeps
    // going (restore) at one of those it began.
    const std::vector<core::Action> candidates =
        rig.keep_going == KeepGoing::yes
            ? rig.attempted
            : (rig.current ? std::vector<core::Action>{*rig.current} : std::vector<core::Action>{});
    const bool matches = std::any_of(candidates.begin(), candidates.end(), [&](const auto& a) {
      return core::action_address(entry.action) == core::action_address(a) &&
             core::action_path(entry.action) == core::action_path(a) &&
             entry.action.index() == a.index();
    });
    EXPECT_TRUE(matches) << core::describe(entry.action);
    if (entry.state == core::EntryState::failed) {
      if (rig.keep_going == KeepGoing::yes) {
        EXPECT_NE(result.error().message.find(entry.error), std::string::npos) << entry.error;
      } else {
        EXPECT_EQ(entry.error, result.error().message);
      }
    }
  }
  EXPECT_LE(unfinished, 1u);
}

// The errno step `k` fails with. pcipass handles every errno of the list
// alike, so each step gets one of them in turn rather than all four (which
// would take four times as long); the turn shifts every four steps, so that
// each step of a journal write (create, write, fsync, rename) meets each errno.
int error_for_step(std::size_t k) {
  return k_errors[(k + k / 4) % std::size(k_errors)];
}

// Puts the temporary folders of the tests (TempDir, SimulatedKernel) on
// /dev/shm while it lives, when that is a writable folder. Every case
// fsyncs a dozen journal writes: on a disk shared with other jobs that costs
// half a second a case, on a tmpfs nothing, and faults are injected, not
// met, so the file system makes no difference to what is tested.
class TemporariesInMemory {
 public:
  TemporariesInMemory() {
    if (const char* tmpdir = std::getenv("TMPDIR")) m_saved = tmpdir;
    if (::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  }
  ~TemporariesInMemory() {
    if (m_saved) {
      ::setenv("TMPDIR", m_saved->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }
  TemporariesInMemory(const TemporariesInMemory&) = delete;
  TemporariesInMemory& operator=(const TemporariesInMemory&) = delete;

 private:
  std::optional<std::string> m_saved;
};

// Runs `flow` once cleanly, then once for every step k with the k-th
// operation failing, checking after the fault and after the re-run.
void check_every_fault(const Flow& flow) {
  const TemporariesInMemory in_memory;
  FaultInjector faults;
  std::map<std::string, std::string> before;
  std::map<std::string, std::string> after;
  EndState clean;
  std::vector<std::string> steps;
  {
    Rig rig(flow.host, &faults);
    flow.setup(rig);
    before = test::files_under(rig.kernel.root() / "etc");
    faults.disarm();
    auto result = flow.run(rig);
    ASSERT_TRUE(result) << result.error().message;
    steps = step_names(faults.steps(), rig.kernel.root());
    after = test::files_under(rig.kernel.root() / "etc");
    clean = end_state(rig);
  }
  ASSERT_FALSE(steps.empty());
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const int error = error_for_step(k);
    SCOPED_TRACE("step " + std::to_string(k) + " (" + steps[k] + ") fails with " +
                 std::strerror(error));
    Rig rig(flow.host, &faults);
    flow.setup(rig);
    faults.arm(k, error);
    const core::Status result = flow.run(rig);
    faults.disarm();
    ASSERT_TRUE(faults.failed().has_value()) << "the run took another path";
    EXPECT_EQ(step_names({*faults.failed()}, rig.kernel.root()).front(), steps[k]);
    ASSERT_FALSE(result) << "the run succeeded although its step failed";
    expect_clear_error(result.error(), *faults.failed(), error);

    EXPECT_EQ(temporaries(rig.kernel.root()), std::vector<std::string>{});
    for (const auto& [path, bytes] : test::files_under(rig.kernel.root() / "etc")) {
      const bool old_content = before.contains(path) && before.at(path) == bytes;
      const bool new_content = after.contains(path) && after.at(path) == bytes;
      EXPECT_TRUE(old_content || new_content) << "etc/" << path << " is half-written";
    }
    expect_consistent_journal(rig, result);

    auto rerun = flow.run(rig);
    ASSERT_TRUE(rerun) << rerun.error().message;
    const EndState end = end_state(rig);
    EXPECT_EQ(end.trees, clean.trees);
    EXPECT_EQ(end.journal, clean.journal);
  }
}

TEST(FaultInjection, BindFailingAtAnyStep) {
  // Three devices (the GPU completes the group of its HDMI function): the
  // faults hit the journal's first creation, every journal write and every
  // sysfs write of the binds.
  check_every_fault(Flow{"workstation", [](Rig&) {},
                         [](Rig& rig) {
                           return bind(rig, {addr(k_zns), addr(k_hdmi)}, core::Force::yes,
                                       core::GroupExpansion::whole_groups);
                         }});
}

TEST(FaultInjection, PermissionsFailingAtAnyStep) {
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  check_every_fault(Flow{"workstation",
                         [](Rig& rig) {
                           ASSERT_TRUE(bind(rig, {addr(k_zns)}, core::Force::no,
                                            core::GroupExpansion::named_only));
                         },
                         open_to_group});
}

TEST(FaultInjection, RestoreAfterARebootFailingAtAnyStep) {
  if (own_group().empty()) GTEST_SKIP() << "this process's group has no name";
  // On the laptop vfio_pci is loaded by the restore; the udev rule is gone
  // and the limits file was edited, so both are written again.
  check_every_fault(Flow{"laptop",
                         [](Rig& rig) {
                           ASSERT_TRUE(bind(rig, {addr(k_zns)}, core::Force::no,
                                            core::GroupExpansion::named_only));
                           ASSERT_TRUE(open_to_group(rig));
                           rig.kernel.reboot();
                           fs::remove(rig.etc() / "udev/rules.d/90-pcipass-vfio.rules");
                           std::ofstream(rig.etc() / "security/limits.d/90-pcipass-memlock.conf")
                               << "# edited by hand\n";
                         },
                         restore});
}

TEST(FaultInjection, VfCountFailingAtAnyStep) {
  // 4 -> 2 VFs on the SR-IOV host: the journal writes and both sysfs writes
  // ("0", then "2"); a re-run after any of them ends where a clean run does,
  // with the count the PF had before (4) still the one release gives back.
  check_every_fault(Flow{"sriov", [](Rig&) {},
                         [](Rig& rig) -> core::Status {
                           auto plan = core::plan_vf_count(
                               rig.inventory(), {addr("0000:02:00.0"), 2, core::Force::no},
                               rig.journal().state());
                           if (!plan) return core::fail(plan.error());
                           return rig.run(plan->actions);
                         }});
}

const std::string k_guest =
    "<domain type='kvm'>\n  <name>g</name>\n  <devices>\n    <disk type='file'/>\n  "
    "</devices>\n</domain>\n";

core::Status add_hostdev(core::DomainXml& xml) {
  auto added = xml.add_hostdev(addr("0000:2d:00.0"),
                               test::file_text(test::source_path("xml-templates/hostdev-pci.xml")));
  if (!added) return core::fail(added.error());
  return core::ok();
}

TEST(FaultInjection, DomainXmlEditFailingAtAnyStep) {
  FaultInjector faults;
  std::string clean;
  std::string edited;
  std::vector<std::string> steps;
  {
    test::TempDir dir;
    const fs::path file = dir.path() / "g.xml";
    std::ofstream(file) << k_guest;
    ::chmod(file.c_str(), 0640);
    faults.disarm();
    auto result = edit_domain_file(file, add_hostdev, DryRun::no);
    ASSERT_TRUE(result) << result.error().message;
    steps = step_names(faults.steps(), dir.path());
    edited = result->after;
    clean = test::snapshot_tree(dir.path());
  }
  ASSERT_EQ(steps.size(), 10u);  // create, chown, write, fsync, rename: backup, then the file
  for (std::size_t k = 0; k < steps.size(); ++k) {
    for (int error : k_errors) {
      SCOPED_TRACE("step " + std::to_string(k) + " (" + steps[k] + ") fails with " +
                   std::strerror(error));
      test::TempDir dir;
      const fs::path file = dir.path() / "g.xml";
      std::ofstream(file) << k_guest;
      ::chmod(file.c_str(), 0640);
      faults.arm(k, error);
      auto result = edit_domain_file(file, add_hostdev, DryRun::no);
      faults.disarm();
      ASSERT_TRUE(faults.failed().has_value());
      EXPECT_EQ(step_names({*faults.failed()}, dir.path()).front(), steps[k]);
      ASSERT_FALSE(result);
      expect_clear_error(result.error(), *faults.failed(), error);

      EXPECT_EQ(temporaries(dir.path()), std::vector<std::string>{});
      const std::string now = test::file_text(file);
      EXPECT_TRUE(now == k_guest || now == edited) << "g.xml is half-written:\n" << now;
      const fs::path backup = dir.path() / ("g.xml" + std::string(k_backup_suffix));
      if (fs::exists(backup)) {
        EXPECT_EQ(test::file_text(backup), k_guest);
      }
      struct stat st {};
      ASSERT_EQ(::stat(file.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 07777, 0640u);

      auto rerun = edit_domain_file(file, add_hostdev, DryRun::no);
      ASSERT_TRUE(rerun) << rerun.error().message;
      EXPECT_EQ(test::snapshot_tree(dir.path()), clean);
    }
  }
}

}  // namespace
}  // namespace pcipass::host
