#include "base/cancel.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "base/thread_annotations.h"

namespace sanpool {
namespace internal {

struct CancelState {
  Mutex mu;
  CondVar cv;  // Signalled on cancel and whenever a callback finishes.
  // Written under mu, read without it by IsCancelled().
  std::atomic<bool> cancelled{false};
  uint64_t next_id GUARDED_BY(mu) = 1;
  std::map<uint64_t, std::function<void()>> callbacks GUARDED_BY(mu);
  // The callback Cancel() is running right now (0: none) and its thread, so
  // that Unregister() can wait for it, except from inside the callback.
  uint64_t running_id GUARDED_BY(mu) = 0;
  std::thread::id running_thread GUARDED_BY(mu);

  void Cancel() {
    mu.Lock();
    if (cancelled.load()) {
      mu.Unlock();
      return;
    }
    cancelled.store(true);
    cv.SignalAll();
    while (!callbacks.empty()) {
      auto it = callbacks.begin();
      running_id = it->first;
      running_thread = std::this_thread::get_id();
      {
        std::function<void()> callback = std::move(it->second);
        callbacks.erase(it);
        mu.Unlock();
        callback();
        // The callback's captures die here, before waiters are released.
      }
      mu.Lock();
      running_id = 0;
      cv.SignalAll();
    }
    mu.Unlock();
  }

  void Unregister(uint64_t id) {
    MutexLock lock(mu);
    if (callbacks.erase(id) > 0) return;
    while (running_id == id && running_thread != std::this_thread::get_id()) {
      cv.Wait(mu);
    }
  }
};

}  // namespace internal

CancellationToken::Registration::Registration(Registration&& other) noexcept
    : state_(std::move(other.state_)), id_(std::exchange(other.id_, 0)) {}

CancellationToken::Registration& CancellationToken::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::move(other.state_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

CancellationToken::Registration::~Registration() { Reset(); }

void CancellationToken::Registration::Reset() {
  if (state_ != nullptr) state_->Unregister(id_);
  state_.reset();
  id_ = 0;
}

bool CancellationToken::IsCancelled() const {
  return state_ != nullptr && state_->cancelled.load();
}

Status CancellationToken::CheckCancelled(std::string_view what) const {
  if (!IsCancelled()) return Status::Ok();
  return CancelledError(std::string(what) + ": cancelled");
}

CancellationToken::Registration CancellationToken::OnCancel(
    std::function<void()> callback) const {
  if (state_ == nullptr) return Registration();
  {
    MutexLock lock(state_->mu);
    if (!state_->cancelled.load()) {
      uint64_t id = state_->next_id++;
      state_->callbacks.emplace(id, std::move(callback));
      return Registration(state_, id);
    }
  }
  callback();
  return Registration();
}

bool CancellationToken::WaitFor(std::chrono::nanoseconds timeout) const {
  if (state_ == nullptr) {
    std::this_thread::sleep_for(timeout);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(state_->mu);
  while (!state_->cancelled.load()) {
    if (state_->cv.WaitUntil(state_->mu, deadline) == std::cv_status::timeout) {
      break;
    }
  }
  return state_->cancelled.load();
}

CancellationSource::CancellationSource()
    : state_(std::make_shared<internal::CancelState>()) {}

CancellationSource::CancellationSource(const CancellationToken& parent)
    : CancellationSource() {
  parent_registration_ =
      parent.OnCancel([state = state_] { state->Cancel(); });
}

CancellationSource::~CancellationSource() = default;

void CancellationSource::Cancel() { state_->Cancel(); }

bool CancellationSource::IsCancelled() const {
  return state_->cancelled.load();
}

CancellationToken CancellationSource::Token() const {
  return CancellationToken(state_);
}

}  // namespace sanpool
