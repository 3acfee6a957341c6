// WorkerPool: a fixed number of threads running blocking work (O_DIRECT I/O,
// sanlock and lvm calls) off the network threads, with a bounded queue so
// that overload is refused instead of queued without limit.
//
//   WorkerPool pool({.name = "io", .threads = 4, .max_queued = 256});
//   Status s = pool.Submit([=] { DoDirectRead(...); done(...); });
//   if (!s.ok()) return s;          // ResourceExhausted: shed the request
//   ...
//   pool.Shutdown();                // runs what is queued, then joins
//
// Work items run in FIFO order of submission, each on one of the pool's
// threads; several run concurrently. A work item must not throw (an escaping
// exception terminates the process) and should not block forever: Shutdown()
// waits for it. Work that needs a result reports it through whatever its
// closure captures (a callback, a promise).
//
// Thread-safety: all methods may be called from any thread, including from
// inside a work item (except Shutdown(), see below).
#ifndef SANPOOL_BASE_WORKER_POOL_H_
#define SANPOOL_BASE_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"

namespace sanpool {

struct WorkerPoolOptions {
  // Thread name prefix (visible in `top -H`, gdb); at most 12 characters are
  // kept so that "<name>-<n>" fits the kernel's 15-character limit.
  std::string name = "worker";
  // Number of threads, >= 1.
  int threads = 2;
  // Work items that may wait for a free thread (not counting the ones
  // running). With 0 nothing may wait: Submit fails whenever every thread
  // is busy.
  size_t max_queued = 64;
};

class WorkerPool {
 public:
  // Starts the threads. REQUIRES: options.threads >= 1.
  explicit WorkerPool(WorkerPoolOptions options);
  // Shutdown().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `work`. Never blocks on the queue.
  // Errors: kResourceExhausted when max_queued items are already waiting;
  // kFailedPrecondition once Shutdown() has started. On error `work` is
  // destroyed without running.
  Status Submit(std::function<void()> work) EXCLUDES(mu_);

  // Refuses new work, lets the threads finish every queued and running item,
  // then joins them. Idempotent; a second caller waits like the first.
  // REQUIRES: not called from one of this pool's threads (asserted).
  void Shutdown() EXCLUDES(mu_);

  // Items waiting for a thread / items running now (for metrics and tests).
  size_t QueuedCount() const EXCLUDES(mu_);
  size_t RunningCount() const EXCLUDES(mu_);
  int thread_count() const { return thread_count_; }

 private:
  void WorkerLoop(int index) EXCLUDES(mu_);
  bool IsPoolThread() const;

  const std::string name_;
  const int thread_count_;
  const size_t max_queued_;

  mutable Mutex mu_;
  CondVar work_available_;
  CondVar shutdown_done_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;
  bool shutting_down_ GUARDED_BY(mu_) = false;
  bool joined_ GUARDED_BY(mu_) = false;
  // Written only by the constructor and by the one thread that joins in
  // Shutdown() (the one that flipped shutting_down_).
  std::vector<std::thread> threads_;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_WORKER_POOL_H_
