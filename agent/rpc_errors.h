// The one mapping from sanpool::Status to JSON-RPC 2.0 error objects.
//
// Handlers never build error JSON: they return a Status and this file decides
// the wire form, mechanically:
//
//   1. status.storage_code() != 0        -> that code (oVirt's numbers, e.g. 654
//                                            "Not SPM"), so VDSM-era engines
//                                            understand us.
//   2. otherwise by Code:
//        kInvalidArgument                -> -32602 (invalid params: the caller's
//                                            input is wrong, whether the registry
//                                            or the handler noticed)
//        kInternal                       -> -32603 (internal error: our bug)
//        kUnimplemented                  -> -32601 is NOT used (the method
//                                            exists); it maps like the rest:
//        any other code c                -> -32000 - c, i.e.
//          kCancelled -32001, kUnknown -32002, kDeadlineExceeded -32004,
//          kNotFound -32005, kAlreadyExists -32006, kPermissionDenied -32007,
//          kResourceExhausted -32008 (also "server busy"), kFailedPrecondition
//          -32009, kAborted -32010, kOutOfRange -32011, kUnimplemented -32012,
//          kUnavailable -32014, kDataLoss -32015.
//
// The error object is
//   {"code": <int>, "message": <status message>,
//    "data": {"status": "<CodeName>", <detail key>: <detail value>...}}
// Details are strings; a detail named "status" is emitted as "detail.status"
// so it cannot hide the code name.
//
// Protocol-level errors the dispatcher raises itself use the standard codes
// below (parse error, invalid request, method not found) with data.status set
// to the closest Code.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_AGENT_RPC_ERRORS_H_
#define SANPOOL_AGENT_RPC_ERRORS_H_

#include <boost/json/object.hpp>
#include <string_view>

#include "base/status.h"

namespace sanpool::agent {

// JSON-RPC 2.0 standard codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// The worker pool's queue is full; retry later. Same as kResourceExhausted.
inline constexpr int kServerBusy = -32008;

// The JSON-RPC error code for a non-OK status (rules above).
// REQUIRES: !status.ok().
int RpcErrorCode(const Status& status);

// A human-readable label for a JSON-RPC code, for docs: "Invalid params",
// "Server error (NOT_FOUND)", "Storage error 654".
std::string RpcErrorName(int code);

// Builds the JSON-RPC "error" member for `status` with code RpcErrorCode().
// REQUIRES: !status.ok().
boost::json::object StatusToRpcError(const Status& status);

// Same, with an explicit JSON-RPC code (for protocol errors whose code is not
// derived from the status code, e.g. -32700 with data.status INVALID_ARGUMENT).
boost::json::object StatusToRpcError(const Status& status, int rpc_code);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_RPC_ERRORS_H_
