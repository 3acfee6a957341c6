#include "agent/rpc_errors.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

namespace json = boost::json;

TEST_CASE("Storage codes win over status codes") {
  CHECK(RpcErrorCode(Status(Code::kFailedPrecondition, "not SPM", 654)) == 654);
  CHECK(RpcErrorCode(Status(Code::kInvalidArgument, "bad", 100)) == 100);
}

TEST_CASE("Status codes map mechanically") {
  CHECK(RpcErrorCode(InvalidArgumentError("x")) == kInvalidParams);
  CHECK(RpcErrorCode(InternalError("x")) == kInternalError);
  CHECK(RpcErrorCode(CancelledError("x")) == -32001);
  CHECK(RpcErrorCode(NotFoundError("x")) == -32005);
  CHECK(RpcErrorCode(ResourceExhaustedError("x")) == kServerBusy);
  CHECK(RpcErrorCode(FailedPreconditionError("x")) == -32009);
  CHECK(RpcErrorCode(UnavailableError("x")) == -32014);
  CHECK(RpcErrorCode(DataLossError("x")) == -32015);
}

TEST_CASE("Error objects carry code, message, status name and details") {
  const Status s = NotFoundError("volume missing")
                       .WithDetail("volUUID", "v1")
                       .WithDetail("status", "shadowed");
  const json::object e = StatusToRpcError(s);
  CHECK(e.at("code") == -32005);
  CHECK(e.at("message") == "volume missing");
  CHECK(e.at("data") ==
        json::parse(R"({"status":"NOT_FOUND","volUUID":"v1","detail.status":"shadowed"})"));
}

TEST_CASE("An explicit code overrides the mapping") {
  const json::object e = StatusToRpcError(InvalidArgumentError("bad json"), kParseError);
  CHECK(e.at("code") == kParseError);
  CHECK(e.at("data").at("status") == "INVALID_ARGUMENT");
}

TEST_CASE("Error names for docs") {
  CHECK(RpcErrorName(kParseError) == "Parse error");
  CHECK(RpcErrorName(-32005) == "Server error (NOT_FOUND)");
  CHECK(RpcErrorName(654) == "Storage error 654");
}

}  // namespace
}  // namespace sanpool::agent
