// Test-only: a one-shot latch that work items (pool jobs, RPC methods, SPM
// tasks) block on until the test opens it.
#ifndef SANPOOL_BASE_LATCH_TEST_UTIL_H_
#define SANPOOL_BASE_LATCH_TEST_UTIL_H_

#include "base/thread_annotations.h"

namespace sanpool::testing {

// Thread-safe. Wait() blocks until Open() was called (at any time before or
// after); once open it stays open.
class Latch {
 public:
  void Open() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    open_ = true;
    cv_.SignalAll();
  }
  void Wait() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (!open_) cv_.Wait(mu_);
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ GUARDED_BY(mu_) = false;
};

}  // namespace sanpool::testing

#endif  // SANPOOL_BASE_LATCH_TEST_UTIL_H_
