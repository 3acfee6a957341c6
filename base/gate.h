// Gate: tracks in-flight work so that shutdown can stop new work and wait for
// the running work to finish (modelled on seastar::gate).
//
//   // Per request:
//   auto token = gate.TryEnter();
//   if (!token) return UnavailableError("shutting down");
//   ... work; the token is released when it goes out of scope ...
//
//   // On SIGTERM:
//   gate.Close();
//   if (!gate.WaitDrainedFor(std::chrono::seconds(30))) log::Warning(...);
//
// Thread-safety: all methods may be called from any thread. Tokens may be
// moved to and released on any thread.
// Ownership: the Gate must outlive every Token it handed out; destroying a
// Gate while tokens are outstanding is a bug and aborts (assert).
#ifndef SANPOOL_BASE_GATE_H_
#define SANPOOL_BASE_GATE_H_

#include <chrono>
#include <cstddef>
#include <optional>

#include "base/thread_annotations.h"

namespace sanpool {

class Gate {
 public:
  // Proof of entry; leaving the gate when destroyed. Move-only.
  class [[nodiscard]] Token {
   public:
    Token(Token&& other) noexcept;
    Token& operator=(Token&& other) noexcept;
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;
    ~Token();

   private:
    friend class Gate;
    explicit Token(Gate* gate) : gate_(gate) {}
    void Release();
    Gate* gate_;
  };

  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  // REQUIRES: no outstanding tokens.
  ~Gate();

  // A token, or nullopt once Close() has been called. Never blocks.
  std::optional<Token> TryEnter() EXCLUDES(mu_);

  // Refuses new entries from now on. Idempotent; does not wait.
  void Close() EXCLUDES(mu_);
  bool IsClosed() const EXCLUDES(mu_);

  // Blocks until no token is outstanding. Without Close() new entries may
  // arrive right after it returns. Do not call while holding a token of this
  // gate (it would wait for itself).
  void WaitDrained() EXCLUDES(mu_);
  // Same, giving up after `timeout` (real time); true if drained.
  bool WaitDrainedFor(std::chrono::nanoseconds timeout) EXCLUDES(mu_);

  // Number of outstanding tokens (for status and tests).
  size_t ActiveCount() const EXCLUDES(mu_);

 private:
  void Leave() EXCLUDES(mu_);

  mutable Mutex mu_;
  CondVar drained_;
  bool closed_ GUARDED_BY(mu_) = false;
  size_t active_ GUARDED_BY(mu_) = 0;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_GATE_H_
