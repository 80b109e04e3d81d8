// The journal file and the state lock: atomic rewrites, a clear error for a
// damaged journal, and a second run waiting or failing at once.

#include "support/fake_os.hpp"

#include <pcipass/host/journal.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

namespace pcipass::host {
namespace {

namespace fs = std::filesystem;

TEST(Journal, MissingFileIsEmptyAndSaveCreatesTheFolder) {
  test::TempDir dir;
  test::FakeOs os;
  const fs::path state = dir.path() / "var/lib/pcipass";
  auto journal = Journal::load(os, state);
  ASSERT_TRUE(journal) << journal.error().message;
  EXPECT_TRUE(journal->state().empty());
  journal->state().begin(core::LoadModule{"vfio_pci"});
  ASSERT_TRUE(journal->save());
  auto again = Journal::load(os, state);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state().to_text(), journal->state().to_text());
  EXPECT_EQ(fs::status(state / "journal.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST(Journal, ADamagedJournalIsBadInputWithAWayOut) {
  test::TempDir dir;
  test::FakeOs os;
  std::ofstream(dir.path() / "journal.json") << "{\"format\": \"pcipass-journal\", \"version\": 1";
  auto journal = Journal::load(os, dir.path());
  ASSERT_FALSE(journal);
  EXPECT_EQ(journal.error().code, core::ExitCode::bad_input);
  EXPECT_EQ(journal.error().message,
            "reading the journal " + (dir.path() / "journal.json").string() +
                " (move it away only after checking by hand which devices are still "
                "on vfio-pci): not JSON");
}

TEST(StateLock, NoWaitFailsAtOnceWhileAnotherRunHoldsIt) {
  test::TempDir dir;
  auto first = StateLock::acquire(dir.path(), Wait::no);
  ASSERT_TRUE(first) << first.error().message;
  auto second = StateLock::acquire(dir.path(), Wait::no);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, core::ExitCode::busy);
  EXPECT_EQ(second.error().message,
            "another pcipass run holds the lock " + (dir.path() / "lock").string() +
                "; wait for it to finish, or run again without --no-wait to wait for it");
}

TEST(StateLock, ASecondRunWaitsUntilTheFirstEnds) {
  test::TempDir dir;
  auto first = std::make_optional(StateLock::acquire(dir.path(), Wait::no).value_or_throw());
  std::atomic<bool> waited = false;
  std::atomic<bool> acquired = false;
  std::thread second([&] {
    auto lock = StateLock::acquire(dir.path(), Wait::yes, [&] { waited = true; });
    acquired = lock.has_value();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(acquired);
  first.reset();  // the first run ends
  second.join();
  EXPECT_TRUE(waited);
  EXPECT_TRUE(acquired);
}

}  // namespace
}  // namespace pcipass::host
