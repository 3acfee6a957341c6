#include "base/clock.h"

#include <memory>
#include <thread>

namespace sanpool {

void Waker::Wake() {
  MutexLock lock(mu_);
  woken_ = true;
  for (auto& [id, fn] : listeners_) fn();
}

bool Waker::IsWoken() const {
  MutexLock lock(mu_);
  return woken_;
}

void Waker::Reset() {
  MutexLock lock(mu_);
  woken_ = false;
}

uint64_t Waker::AddListener(std::function<void()> fn) {
  MutexLock lock(mu_);
  if (woken_) return 0;
  uint64_t id = next_id_++;
  listeners_.emplace(id, std::move(fn));
  return id;
}

void Waker::RemoveListener(uint64_t id) {
  MutexLock lock(mu_);
  listeners_.erase(id);
}

SteadyTime SystemClock::SteadyNow() const {
  return std::chrono::steady_clock::now();
}

WallTime SystemClock::WallNow() const {
  return std::chrono::system_clock::now();
}

namespace {

// What one sleeping thread waits on. Shared with the waker's listener.
struct SleepState {
  Mutex mu;
  CondVar cv;
  bool woken GUARDED_BY(mu) = false;
};

}  // namespace

SleepResult SystemClock::SleepUntil(SteadyTime deadline, Waker* waker) {
  if (waker == nullptr) {
    std::this_thread::sleep_until(deadline);
    return SleepResult::kDeadline;
  }
  SleepState state;
  uint64_t id = waker->AddListener([&state] {
    MutexLock lock(state.mu);
    state.woken = true;
    state.cv.SignalAll();
  });
  if (id == 0) return SleepResult::kWoken;
  SleepResult result = SleepResult::kDeadline;
  {
    MutexLock lock(state.mu);
    while (!state.woken && std::chrono::steady_clock::now() < deadline) {
      state.cv.WaitUntil(state.mu, deadline);
    }
    if (state.woken) result = SleepResult::kWoken;
  }
  // After this returns the listener cannot touch `state` any more.
  waker->RemoveListener(id);
  return result;
}

}  // namespace sanpool
