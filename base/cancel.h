// Cancellation: a CancellationSource is owned by whoever may cancel an
// operation; it hands out CancellationTokens to the code doing the work, which
// polls IsCancelled() or registers a callback (modelled on seastar's
// abort_source and std::stop_source/stop_token).
//
//   CancellationSource source;
//   worker.Start(source.Token());
//   ...
//   source.Cancel();                      // e.g. on SIGTERM or RPC cancel
//
//   // In the worker:
//   auto reg = token.OnCancel([&] { cv.SignalAll(); });   // wake a waiter
//   RETURN_IF_ERROR(token.CheckCancelled("copying image"));
//
// Cancellation is one-way and permanent: once cancelled, always cancelled.
//
// Thread-safety: every method of all three classes may be called from any
// thread concurrently. Tokens are cheap copyable handles on a shared state;
// they stay valid (and keep their state) after the source is destroyed.
// A default-constructed token is never cancelled.
//
// Callbacks run exactly once: on the thread that calls Cancel(), or inline in
// OnCancel() when the token is already cancelled. They must not block for
// long and must not throw. Destroying a Registration unregisters its callback;
// if the callback is running on another thread at that moment, the destructor
// waits for it to finish, so after the destructor returns the callback is
// neither running nor will run (it is therefore safe to capture references to
// objects that die right after the Registration). A callback may destroy its
// own Registration.
#ifndef SANPOOL_BASE_CANCEL_H_
#define SANPOOL_BASE_CANCEL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "base/status.h"

namespace sanpool {

namespace internal {
struct CancelState;
}  // namespace internal

class CancellationToken {
 public:
  // RAII handle of a callback registered with OnCancel(). Move-only.
  class [[nodiscard]] Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    // Unregisters; waits if the callback is running on another thread.
    ~Registration();

    // Unregisters now (same semantics as the destructor). Idempotent.
    void Reset();

   private:
    friend class CancellationToken;
    Registration(std::shared_ptr<internal::CancelState> state, uint64_t id)
        : state_(std::move(state)), id_(id) {}
    std::shared_ptr<internal::CancelState> state_;
    uint64_t id_ = 0;
  };

  // A token that is never cancelled.
  CancellationToken() = default;

  bool IsCancelled() const;

  // OK, or kCancelled "<what>: cancelled" once cancelled.
  Status CheckCancelled(std::string_view what) const;

  // Registers `callback` to run once on cancellation. If already cancelled the
  // callback runs inline before OnCancel returns (and the returned
  // Registration is empty). For a never-cancelled token nothing is stored.
  Registration OnCancel(std::function<void()> callback) const;

  // Blocks until cancelled or `timeout` elapsed (real time). Returns
  // IsCancelled(). A cancellable sleep for retry loops.
  bool WaitFor(std::chrono::nanoseconds timeout) const;

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<internal::CancelState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<internal::CancelState> state_;
};

class CancellationSource {
 public:
  CancellationSource();
  // A source that is also cancelled when `parent` is (a child scope: cancel
  // one operation without cancelling everything, but follow a global cancel).
  explicit CancellationSource(const CancellationToken& parent);
  // Does not cancel. Tokens stay valid.
  ~CancellationSource();
  CancellationSource(const CancellationSource&) = delete;
  CancellationSource& operator=(const CancellationSource&) = delete;

  // Cancels and runs every registered callback on this thread before
  // returning. Idempotent: later calls do nothing (and do not wait for
  // callbacks that another thread's Cancel() is still running).
  void Cancel();
  bool IsCancelled() const;
  CancellationToken Token() const;

 private:
  std::shared_ptr<internal::CancelState> state_;
  CancellationToken::Registration parent_registration_;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_CANCEL_H_
