// SanlockLib without a daemon: what every call says when sanlock is not
// running (hermetic: SANLOCK_RUN_DIR points at an empty temporary directory,
// so no real daemon is ever reached). The calls against a running daemon are
// in lease/lease_system_test.cc.
#include "lease/sanlock_lib.h"

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "lease/sanlock_errors.h"

namespace sanpool::lease {
namespace {

class NoDaemon {
 public:
  NoDaemon() {
    char dir[] = "/tmp/sanpool-no-sanlock-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
    const char* old = std::getenv("SANLOCK_RUN_DIR");
    if (old != nullptr) old_ = old;
    ::setenv("SANLOCK_RUN_DIR", dir_.c_str(), 1);
  }
  ~NoDaemon() {
    if (old_.empty()) {
      ::unsetenv("SANLOCK_RUN_DIR");
    } else {
      ::setenv("SANLOCK_RUN_DIR", old_.c_str(), 1);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

 protected:
  std::string dir_;
  std::string old_;
  SanlockLib sanlock_;
  const LockspaceSpec ls_{"sd", 1, {"/nonexistent/ids", 0}, {}};
  const ResourceSpec sdm_{"sd", "SDM", {"/nonexistent/leases", 1 << 20}, {}};
};

TEST_CASE_METHOD(NoDaemon, "no daemon: register is unavailable",
                 "[lease][sanlock_lib]") {
  Status s = sanlock_.Register();
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.storage_code() == 651);
  CHECK(SanlockErrorOf(s) < 0);
}

TEST_CASE_METHOD(NoDaemon, "no daemon: acquire and lockspace calls fail",
                 "[lease][sanlock_lib]") {
  CHECK(sanlock_.Acquire(sdm_, {}).status().code() == Code::kUnavailable);
  CHECK(sanlock_.AddLockspace(ls_, 2).code() == Code::kUnavailable);
  CHECK(sanlock_.InquireLockspace(ls_).status().code() ==
        Code::kUnavailable);
  CHECK(sanlock_.GetHosts("sd", 0).status().code() == Code::kUnavailable);
  // Nothing registered, nothing held.
  Result<std::vector<HeldResource>> held = sanlock_.Inquire();
  REQUIRE(held.ok());
  CHECK(held->empty());
  CHECK(sanlock_.Release(sdm_).code() == Code::kNotFound);
}

TEST_CASE_METHOD(NoDaemon, "invalid specs never reach libsanlock",
                 "[lease][sanlock_lib]") {
  ResourceSpec bad = sdm_;
  bad.disk.offset = 512;
  CHECK(sanlock_.Acquire(bad, {}).status().code() ==
        Code::kInvalidArgument);
  LockspaceSpec no_host = ls_;
  no_host.host_id = 0;
  CHECK(sanlock_.AddLockspace(no_host, 2).code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace sanpool::lease
