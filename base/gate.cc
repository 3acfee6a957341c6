#include "base/gate.h"

#include <cassert>
#include <utility>

namespace sanpool {

Gate::Token::Token(Token&& other) noexcept
    : gate_(std::exchange(other.gate_, nullptr)) {}

Gate::Token& Gate::Token::operator=(Token&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = std::exchange(other.gate_, nullptr);
  }
  return *this;
}

Gate::Token::~Token() { Release(); }

void Gate::Token::Release() {
  if (gate_ != nullptr) std::exchange(gate_, nullptr)->Leave();
}

Gate::~Gate() {
  MutexLock lock(mu_);
  assert(active_ == 0 && "Gate destroyed with outstanding tokens");
}

std::optional<Gate::Token> Gate::TryEnter() {
  MutexLock lock(mu_);
  if (closed_) return std::nullopt;
  ++active_;
  return Token(this);
}

void Gate::Close() {
  MutexLock lock(mu_);
  closed_ = true;
}

bool Gate::IsClosed() const {
  MutexLock lock(mu_);
  return closed_;
}

void Gate::WaitDrained() {
  MutexLock lock(mu_);
  while (active_ > 0) drained_.Wait(mu_);
}

bool Gate::WaitDrainedFor(std::chrono::nanoseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(mu_);
  while (active_ > 0) {
    if (drained_.WaitUntil(mu_, deadline) == std::cv_status::timeout) break;
  }
  return active_ == 0;
}

size_t Gate::ActiveCount() const {
  MutexLock lock(mu_);
  return active_;
}

void Gate::Leave() {
  MutexLock lock(mu_);
  assert(active_ > 0);
  if (--active_ == 0) drained_.SignalAll();
}

}  // namespace sanpool
