// Clang thread-safety annotations (-Wthread-safety). They compile to nothing
// under g++; one CI build checks them with clang.
//
// Use sanpool::Mutex / MutexLock (below) rather than std::mutex for members
// guarded by annotations: libstdc++'s std::mutex carries no capability
// attribute, so clang could not check it.
#ifndef SANPOOL_BASE_THREAD_ANNOTATIONS_H_
#define SANPOOL_BASE_THREAD_ANNOTATIONS_H_

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define SANPOOL_TSA_(x) __attribute__((x))
#else
#define SANPOOL_TSA_(x)
#endif

#define CAPABILITY(x) SANPOOL_TSA_(capability(x))
#define SCOPED_CAPABILITY SANPOOL_TSA_(scoped_lockable)
#define GUARDED_BY(x) SANPOOL_TSA_(guarded_by(x))
#define PT_GUARDED_BY(x) SANPOOL_TSA_(pt_guarded_by(x))
#define REQUIRES(...) SANPOOL_TSA_(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) SANPOOL_TSA_(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) SANPOOL_TSA_(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SANPOOL_TSA_(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SANPOOL_TSA_(try_acquire_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS SANPOOL_TSA_(no_thread_safety_analysis)

namespace sanpool {

// A std::mutex the analysis understands.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For std::condition_variable_any and std::unique_lock.
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Condition variable usable with Mutex: cv.Wait(mu) while holding mu.
class CondVar {
 public:
  void Wait(Mutex& mu) REQUIRES(mu) { cv_.wait(mu); }
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(Mutex& mu,
                           const std::chrono::time_point<Clock, Duration>& t)
      REQUIRES(mu) {
    return cv_.wait_until(mu, t);
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_THREAD_ANNOTATIONS_H_
