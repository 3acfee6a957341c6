#include "lease/sanlock_errors.h"

#include <cerrno>

#include <catch2/catch.hpp>

namespace sanpool::lease {
namespace {

std::string Detail(const Status& s, std::string_view key) {
  for (const StatusDetail& d : s.details()) {
    if (d.key == key) return d.value;
  }
  return "";
}

TEST_CASE("a live owner fails acquire with AcquireLockFailure",
          "[lease][errors]") {
  Status s = SanlockError(SanlockOp::kAcquire, sanlock_rv::kAcquireIdLive,
                          "SDM");
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.storage_code() == 651);
  CHECK(Detail(s, "sanlock_error") == "-243");
  CHECK(Detail(s, "sanlock_name") == "SANLK_ACQUIRE_IDLIVE");
  CHECK(SanlockErrorOf(s) == -243);
  CHECK(s.message() ==
        "acquire SDM: lease is held by another live host "
        "(SANLK_ACQUIRE_IDLIVE)");
}

TEST_CASE("each operation carries oVirt's storage code", "[lease][errors]") {
  CHECK(StorageCodeFor(SanlockOp::kAcquire) == 651);
  CHECK(StorageCodeFor(SanlockOp::kRelease) == 660);
  CHECK(StorageCodeFor(SanlockOp::kAddLockspace) == 661);
  CHECK(StorageCodeFor(SanlockOp::kRemoveLockspace) == 662);
  CHECK(StorageCodeFor(SanlockOp::kWriteLockspace) == 701);
  CHECK(StorageCodeFor(SanlockOp::kWriteResource) == 701);
  CHECK(StorageCodeFor(SanlockOp::kInquire) == 704);
  CHECK(StorageCodeFor(SanlockOp::kGetHosts) == 0);
}

TEST_CASE("sanlock codes map to the status rules", "[lease][errors]") {
  auto code = [](SanlockOp op, int rv) {
    return SanlockError(op, rv, "x").code();
  };
  CHECK(code(SanlockOp::kAcquire, sanlock_rv::kAioTimeout) ==
        Code::kUnavailable);
  CHECK(code(SanlockOp::kAcquire, sanlock_rv::kAcquireLver) ==
        Code::kAborted);
  CHECK(code(SanlockOp::kAcquire, sanlock_rv::kAcquireLockspace) ==
        Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kAcquire, sanlock_rv::kAcquireOwnedRetry) ==
        Code::kUnavailable);
  CHECK(code(SanlockOp::kReadResourceOwners, sanlock_rv::kLeaderMagic) ==
        Code::kDataLoss);
  CHECK(code(SanlockOp::kReadResourceOwners, sanlock_rv::kLeaderChecksum) ==
        Code::kDataLoss);
  CHECK(code(SanlockOp::kReadResourceOwners, sanlock_rv::kLeaderResource) ==
        Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kAddLockspace, sanlock_rv::kHostIdBusy) ==
        Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kRelease, sanlock_rv::kReleaseOwner) ==
        Code::kAborted);
  CHECK(code(SanlockOp::kAcquire, -299) == Code::kUnknown);
  CHECK(SanlockErrorName(-299) == "sanlock error -299");
}

TEST_CASE("errnos depend on the call", "[lease][errors]") {
  auto code = [](SanlockOp op, int rv) {
    return SanlockError(op, rv, "x").code();
  };
  CHECK(code(SanlockOp::kRelease, -ENOENT) == Code::kNotFound);
  CHECK(code(SanlockOp::kRelease, -EPERM) == Code::kNotFound);
  CHECK(code(SanlockOp::kGetHosts, -ENOENT) == Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kGetHosts, -EAGAIN) == Code::kUnavailable);
  CHECK(code(SanlockOp::kRegister, -ENOENT) == Code::kUnavailable);
  CHECK(code(SanlockOp::kRegister, -ECONNREFUSED) == Code::kUnavailable);
  CHECK(code(SanlockOp::kAcquire, -EEXIST) == Code::kAlreadyExists);
  CHECK(code(SanlockOp::kAcquire, -ENOSPC) == Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kAcquire, -EPIPE) == Code::kUnavailable);
  CHECK(code(SanlockOp::kRemoveLockspace, -EBUSY) ==
        Code::kFailedPrecondition);
  CHECK(code(SanlockOp::kInquire, -EBUSY) == Code::kUnavailable);
  CHECK(code(SanlockOp::kWriteLockspace, -EINVAL) == Code::kInvalidArgument);
  CHECK(code(SanlockOp::kWriteLockspace, -EIO) == Code::kUnavailable);
  CHECK(SanlockErrorName(-EBUSY) == "EBUSY");
}

TEST_CASE("statuses without a sanlock code", "[lease][errors]") {
  CHECK(SanlockErrorOf(Status::Ok()) == 0);
  CHECK(SanlockErrorOf(InternalError("x")) == 0);
}

}  // namespace
}  // namespace sanpool::lease
