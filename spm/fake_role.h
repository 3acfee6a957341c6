// FakeSpmRole: a test SpmRole whose answers the test sets. Starts as "not
// SPM" and connected to no pool, the case a test usually wants to check.
//
// Thread-safety: safe to use from any thread.
#ifndef SANPOOL_SPM_FAKE_ROLE_H_
#define SANPOOL_SPM_FAKE_ROLE_H_

#include <atomic>
#include <string>

#include "base/thread_annotations.h"
#include "spm/role.h"

namespace sanpool::spm {

class FakeSpmRole final : public SpmRole {
 public:
  explicit FakeSpmRole(bool is_spm = false) : is_spm_(is_spm) {}

  Status RequireSpm() const override {
    return IsSpm() ? Status::Ok() : NotSpmError();
  }
  bool IsSpm() const override { return is_spm_.load(); }
  std::string PoolUuid() const override EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return pool_;
  }
  void set_spm(bool is_spm) { is_spm_.store(is_spm); }
  // The pool this host is connected to ("" none).
  void set_pool(std::string pool) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    pool_ = std::move(pool);
  }

 private:
  std::atomic<bool> is_spm_;
  mutable Mutex mu_;
  std::string pool_ GUARDED_BY(mu_);
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_FAKE_ROLE_H_
