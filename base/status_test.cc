#include "base/status.h"

#include <cerrno>

#include <catch2/catch.hpp>

namespace sanpool {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST_CASE("default status is ok") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == Code::kOk);
  CHECK(s.ToString() == "OK");
}

TEST_CASE("error status carries code, message, storage code and details") {
  Status s = Status(Code::kFailedPrecondition, "Not SPM", 654)
                 .WithDetail("pool", "p1");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message() == "Not SPM");
  CHECK(s.storage_code() == 654);
  REQUIRE(s.details().size() == 1);
  CHECK(s.details()[0].key == "pool");
  CHECK(s.ToString() == "FAILED_PRECONDITION: Not SPM [storage_code=654 pool=p1]");
}

TEST_CASE("WithDetail on a shared copy leaves the original alone") {
  Status a = NotFoundError("x");
  Status b = a.WithDetail("k", "v");
  CHECK(a.details().empty());
  CHECK(b.details().size() == 1);
}

TEST_CASE("Annotate prefixes context") {
  CHECK(NotFoundError("gone").Annotate("open /a").message() == "open /a: gone");
  CHECK(Status().Annotate("x").ok());
}

TEST_CASE("ASSIGN_OR_RETURN and RETURN_IF_ERROR propagate the first error") {
  CHECK(*Quarter(8) == 2);
  Result<int> r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "odd: 3");
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == Code::kInvalidArgument);
}

TEST_CASE("errno maps to codes in one place") {
  CHECK(ErrnoToStatus(ENOENT, "open").code() == Code::kNotFound);
  CHECK(ErrnoToStatus(EEXIST, "mkdir").code() == Code::kAlreadyExists);
  CHECK(ErrnoToStatus(ENOSPC, "write").code() == Code::kResourceExhausted);
  CHECK(ErrnoToStatus(EIO, "read").code() == Code::kUnavailable);
  CHECK(ErrnoToStatus(EROFS, "write").code() == Code::kPermissionDenied);
  CHECK(ErrnoToStatus(ENOTEMPTY, "rmdir").code() == Code::kFailedPrecondition);
  Status s = ErrnoToStatus(ENOENT, "open /x");
  CHECK(s.message() == "open /x: No such file or directory");
  REQUIRE(s.details().size() == 1);
  CHECK(s.details()[0].value == "ENOENT");
}

}  // namespace
}  // namespace sanpool
