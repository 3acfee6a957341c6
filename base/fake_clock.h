// FakeClock: a Clock that only moves when a test calls Advance().
//
//   FakeClock clock;
//   std::thread t([&] { clock.SleepFor(5s); done = true; });
//   clock.WaitForSleepers(1);   // t is now blocked in SleepFor
//   clock.Advance(5s);          // wakes t
//
// Both time lines start at fixed instants (steady: 1,000,000 s after the
// steady epoch; wall: 2026-01-01T00:00:00Z) and move together. Sleeps block
// the calling thread until Advance() reaches their deadline or their Waker
// is woken; nothing ever depends on real time, so tests are deterministic.
//
// Thread-safety: thread-safe.
#ifndef SANPOOL_BASE_FAKE_CLOCK_H_
#define SANPOOL_BASE_FAKE_CLOCK_H_

#include <cstddef>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"

namespace sanpool {

class FakeClock final : public Clock {
 public:
  static constexpr std::chrono::seconds kSteadyStart{1'000'000};
  static constexpr std::chrono::seconds kWallStart{1'767'225'600};  // 2026-01-01

  FakeClock();
  // REQUIRES: no thread is sleeping on this clock.
  ~FakeClock() override;

  SteadyTime SteadyNow() const override EXCLUDES(mu_);
  WallTime WallNow() const override EXCLUDES(mu_);
  SleepResult SleepUntil(SteadyTime deadline, Waker* waker) override
      EXCLUDES(mu_);
  using Clock::SleepUntil;

  // Moves both clocks forward by `d` (>= 0) and wakes the sleepers whose
  // deadline has passed.
  void Advance(Duration d) EXCLUDES(mu_);
  // Sets the wall clock alone (a clock step, as NTP may do). Sleeps are on
  // the steady clock and are not affected.
  void SetWallTime(WallTime t) EXCLUDES(mu_);

  // Number of threads currently blocked in SleepUntil.
  size_t SleeperCount() const EXCLUDES(mu_);
  // Blocks until at least `n` threads are blocked in SleepUntil. Lets a test
  // advance time only once a thread is really waiting (no real-time sleeps).
  void WaitForSleepers(size_t n) const EXCLUDES(mu_);
  // The earliest deadline among current sleepers, or SteadyTime::max().
  SteadyTime NextDeadline() const EXCLUDES(mu_);

 private:
  struct Sleeper;

  mutable Mutex mu_;
  mutable CondVar changed_;  // time moved, a sleeper came or went, a wake
  SteadyTime steady_now_ GUARDED_BY(mu_);
  WallTime wall_now_ GUARDED_BY(mu_);
  std::vector<Sleeper*> sleepers_ GUARDED_BY(mu_);  // owned by their threads
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_FAKE_CLOCK_H_
