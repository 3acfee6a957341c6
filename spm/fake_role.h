// FakeSpmRole: a test SpmRole whose answer the test sets. Starts as "not
// SPM", the case a test usually wants to check.
//
// Thread-safety: safe to use from any thread (an atomic flag).
#ifndef SANPOOL_SPM_FAKE_ROLE_H_
#define SANPOOL_SPM_FAKE_ROLE_H_

#include <atomic>

#include "spm/role.h"

namespace sanpool::spm {

class FakeSpmRole final : public SpmRole {
 public:
  explicit FakeSpmRole(bool is_spm = false) : is_spm_(is_spm) {}

  Status RequireSpm() const override {
    return IsSpm() ? Status::Ok() : NotSpmError();
  }
  bool IsSpm() const override { return is_spm_.load(); }
  void set_spm(bool is_spm) { is_spm_.store(is_spm); }

 private:
  std::atomic<bool> is_spm_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_FAKE_ROLE_H_
