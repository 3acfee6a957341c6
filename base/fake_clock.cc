#include "base/fake_clock.h"

#include <algorithm>
#include <cassert>

namespace sanpool {

// One blocked SleepUntil call; lives on the sleeping thread's stack.
struct FakeClock::Sleeper {
  SteadyTime deadline;
  bool woken = false;  // guarded by FakeClock::mu_
};

FakeClock::FakeClock()
    : steady_now_(SteadyTime(kSteadyStart)), wall_now_(WallTime(kWallStart)) {}

FakeClock::~FakeClock() {
  MutexLock lock(mu_);
  assert(sleepers_.empty() && "FakeClock destroyed with sleeping threads");
}

SteadyTime FakeClock::SteadyNow() const {
  MutexLock lock(mu_);
  return steady_now_;
}

WallTime FakeClock::WallNow() const {
  MutexLock lock(mu_);
  return wall_now_;
}

SleepResult FakeClock::SleepUntil(SteadyTime deadline, Waker* waker) {
  Sleeper self{deadline};
  uint64_t listener = 0;
  if (waker != nullptr) {
    // Lock order: Waker::mu_ -> FakeClock::mu_ (the listener runs under the
    // waker's lock); we never take the waker's lock while holding ours.
    listener = waker->AddListener([this, &self] {
      MutexLock lock(mu_);
      self.woken = true;
      changed_.SignalAll();
    });
    if (listener == 0) return SleepResult::kWoken;
  }
  SleepResult result = SleepResult::kDeadline;
  {
    MutexLock lock(mu_);
    sleepers_.push_back(&self);
    changed_.SignalAll();  // for WaitForSleepers
    while (!self.woken && steady_now_ < deadline) changed_.Wait(mu_);
    if (self.woken) result = SleepResult::kWoken;
    sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), &self));
    changed_.SignalAll();
  }
  if (waker != nullptr) waker->RemoveListener(listener);
  return result;
}

void FakeClock::Advance(Duration d) {
  assert(d >= Duration::zero());
  MutexLock lock(mu_);
  steady_now_ += d;
  wall_now_ += std::chrono::duration_cast<WallTime::duration>(d);
  changed_.SignalAll();
}

void FakeClock::SetWallTime(WallTime t) {
  MutexLock lock(mu_);
  wall_now_ = t;
}

size_t FakeClock::SleeperCount() const {
  MutexLock lock(mu_);
  return sleepers_.size();
}

void FakeClock::WaitForSleepers(size_t n) const {
  MutexLock lock(mu_);
  while (sleepers_.size() < n) changed_.Wait(mu_);
}

SteadyTime FakeClock::NextDeadline() const {
  MutexLock lock(mu_);
  SteadyTime next = SteadyTime::max();
  for (const Sleeper* s : sleepers_) next = std::min(next, s->deadline);
  return next;
}

}  // namespace sanpool
