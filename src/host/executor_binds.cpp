// Executor::perform_binds: binds of several IOMMU groups at the same time.
// An unbind waits for the driver to let the device go (an NVMe controller
// shuts down, which can take seconds), so a server's dozens of drives bound
// one after the other take dozens of times the slowest one. Each group gets
// a thread; the journal's promise stays: every bind is recorded as pending
// before its first sysfs write, and a kill at any point leaves entries that
// restore finishes or release undoes.

#include <pcipass/host/executor.hpp>

#include <pcipass/core/text.hpp>

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace pcipass::host {

namespace {

// The binds of one IOMMU group, made in order by one thread.
struct Unit {
  unsigned group = 0;
  std::vector<std::size_t> members;  // positions in the batch
};

}  // namespace

bool Executor::perform_binds(const std::vector<core::Action>& actions, std::size_t first,
                             std::size_t last, std::vector<core::Error>& failures,
                             std::vector<std::pair<unsigned, std::string>>& failed_groups) {
  const std::size_t n = last - first;
  const auto bind_at = [&](std::size_t k) -> const core::BindToVfio& {
    return std::get<core::BindToVfio>(actions[first + k]);
  };
  std::vector<std::optional<core::Error>> errors(n);

  // Shown and checked in plan order, as one after the other would: a
  // refusal with KeepGoing::no leaves every later bind unplanned.
  std::vector<Unit> units;
  for (std::size_t k = 0; k < n; ++k) {
    if (m_observer) m_observer(actions[first + k], operations_of(actions[first + k], m_sys));
    if (auto checked = check_bind(bind_at(k)); !checked) {
      errors[k] = checked.error();
      if (m_keep_going == KeepGoing::no) break;
      continue;
    }
    const unsigned group = bind_at(k).iommu_group;
    auto unit =
        std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.group == group; });
    if (unit == units.end()) {
      units.push_back(Unit{group, {k}});
    } else {
      unit->members.push_back(k);
    }
  }

  // The groups that start together are journaled in one save before any
  // of them is touched; a group a thread takes later, when it takes it.
  core::JournalState& state = m_journal->state();
  std::vector<std::uint64_t> ids(n, 0);
  const std::size_t wave = std::min<std::size_t>(units.size(), m_concurrent_binds);
  const auto begin_unit = [&](const Unit& unit) {
    for (std::size_t k : unit.members) ids[k] = state.begin(actions[first + k]);
  };
  const auto collect = [&] {
    for (std::size_t k = 0; k < n; ++k) {
      if (!errors[k]) continue;
      failures.push_back(*errors[k]);
      failed_groups.emplace_back(bind_at(k).iommu_group, bind_at(k).address.to_string());
    }
  };
  for (std::size_t u = 0; u < wave; ++u) begin_unit(units[u]);
  if (wave > 0) {
    if (auto saved = m_journal->save(); !saved) {
      m_journal_failed = true;
      collect();
      failures.push_back(saved.error().with_context(
          "recording the binds of " + std::to_string(wave) + " IOMMU groups in the journal"));
      return false;
    }
  }

  std::mutex mutex;  // guards everything below that threads share
  std::size_t next = 0;
  bool halt = false;  // start nothing more: a failure (KeepGoing::no), the journal, a crash
  std::exception_ptr thrown;
  std::vector<char> attempted(n, 0);
  // One group, its functions in order, each checked again just before its
  // first write: the checks above may be seconds old by then (an earlier
  // function's unbind, an earlier wave), and a card swapped meanwhile must
  // not be touched.
  const auto bind_group = [&](const Unit& unit) {
    for (std::size_t k : unit.members) {
      {
        const std::lock_guard lock(mutex);
        if (halt) return;
      }
      attempted[k] = 1;
      core::Status done = check_bind(bind_at(k));
      if (done) done = bind_effects(bind_at(k), bind_context(bind_at(k)));
      if (!done) {
        const std::lock_guard lock(mutex);
        errors[k] = done.error();
        if (m_keep_going == KeepGoing::no) {
          halt = true;
          return;
        }
      }
    }
  };
  const auto work = [&] {
    try {
      for (;;) {
        std::size_t u = 0;
        {
          const std::lock_guard lock(mutex);
          if (halt || next == units.size()) return;
          u = next++;
          if (u >= wave) {
            begin_unit(units[u]);
            if (auto saved = m_journal->save(); !saved) {
              m_journal_failed = true;
              halt = true;
              errors[units[u].members.front()] = saved.error().with_context(
                  "recording " + bind_context(bind_at(units[u].members.front())) +
                  " in the journal");
              return;
            }
          }
        }
        bind_group(units[u]);
      }
    } catch (...) {
      // A crash of the test's simulated kernel or Os, or std::bad_alloc:
      // the journal keeps the pending entries, as after kill -9.
      const std::lock_guard lock(mutex);
      if (!thrown) thrown = std::current_exception();
      halt = true;
    }
  };
  {
    std::vector<std::jthread> threads;
    threads.reserve(wave);
    for (std::size_t t = 1; t < wave; ++t) {
      try {
        threads.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no more threads: the ones running (and this one) take the rest
      }
    }
    work();
  }  // every thread joined
  if (thrown) std::rethrow_exception(thrown);

  // Results in plan order, in one save. A bind journaled but never
  // started (the run stopped first) is marked so: nothing was changed.
  const std::string not_started = m_journal_failed
                                      ? "not attempted: the journal could not be written"
                                      : "not attempted: another bind of this run failed first";
  for (const Unit& unit : units) {
    for (std::size_t k : unit.members) {
      if (ids[k] == 0) continue;
      if (errors[k]) {
        state.mark_failed(ids[k], errors[k]->message);
      } else if (attempted[k] != 0) {
        state.finish(ids[k]);
      } else {
        state.mark_failed(ids[k], not_started);
      }
    }
  }
  collect();
  if (!m_journal_failed) {
    if (auto saved = m_journal->save(); !saved) {
      m_journal_failed = true;
      failures.push_back(saved.error().with_context("recording that the binds are done"));
      return false;
    }
  }
  const bool failed =
      std::any_of(errors.begin(), errors.end(), [](const auto& e) { return e.has_value(); });
  return !m_journal_failed && !(failed && m_keep_going == KeepGoing::no);
}

}  // namespace pcipass::host
