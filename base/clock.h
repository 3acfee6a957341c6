// Clock: the time source and sleeper every timed component takes at
// construction, so tests drive time with a FakeClock (base/fake_clock.h)
// instead of sleeping.
//
//   Waker stop;                      // another thread calls stop.Wake()
//   while (clock.SleepFor(interval, &stop) == SleepResult::kDeadline) Poll();
//
// Two time lines: SteadyNow() for intervals, deadlines and timeouts (never
// jumps), WallNow() for timestamps shown to people and written to storage.
//
// Waking: a sleep may be given a Waker; Waker::Wake() ends every sleep using
// that waker at once and is sticky (a sleep starting after Wake() returns
// immediately) until Reset(). This is the minimal cancellation the base layer
// needs; higher layers may wrap it in their own cancellation token.
//
// Thread-safety: Clock implementations and Waker are thread-safe.
#ifndef SANPOOL_BASE_CLOCK_H_
#define SANPOOL_BASE_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

#include "base/thread_annotations.h"

namespace sanpool {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

enum class SleepResult {
  kDeadline,  // the deadline was reached
  kWoken,     // the waker was woken first (or already)
};

// A sticky, resettable signal that ends sleeps early.
class Waker {
 public:
  Waker() = default;
  // REQUIRES: no sleep is using this waker.
  ~Waker() = default;
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Ends current sleeps using this waker and makes later ones return at once.
  void Wake() EXCLUDES(mu_);
  bool IsWoken() const EXCLUDES(mu_);
  // Re-arms the waker.
  void Reset() EXCLUDES(mu_);

  // For Clock implementations. Registers `fn`, which Wake() calls (with the
  // waker's lock held: `fn` must not call back into this Waker). Returns 0
  // without registering if the waker is already woken, else an id for
  // RemoveListener. After RemoveListener returns, `fn` is not running and
  // will not be called.
  uint64_t AddListener(std::function<void()> fn) EXCLUDES(mu_);
  void RemoveListener(uint64_t id) EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  bool woken_ GUARDED_BY(mu_) = false;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::function<void()>> listeners_ GUARDED_BY(mu_);
};

class Clock {
 public:
  virtual ~Clock() = default;

  virtual SteadyTime SteadyNow() const = 0;
  virtual WallTime WallNow() const = 0;

  // Blocks until SteadyNow() >= deadline or `waker` (may be null) is woken.
  // A deadline in the past returns kDeadline at once (unless already woken).
  virtual SleepResult SleepUntil(SteadyTime deadline, Waker* waker) = 0;

  SleepResult SleepFor(Duration duration, Waker* waker = nullptr) {
    return SleepUntil(SteadyNow() + duration, waker);
  }
  SleepResult SleepUntil(SteadyTime deadline) {
    return SleepUntil(deadline, nullptr);
  }
};

// The real clocks (std::chrono::steady_clock, system_clock).
class SystemClock final : public Clock {
 public:
  SteadyTime SteadyNow() const override;
  WallTime WallNow() const override;
  SleepResult SleepUntil(SteadyTime deadline, Waker* waker) override;
  using Clock::SleepUntil;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_CLOCK_H_
