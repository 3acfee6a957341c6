#include "agent/rpc_errors.h"

#include <boost/json/string.hpp>
#include <string>

namespace sanpool::agent {

int RpcErrorCode(const Status& status) {
  if (status.storage_code() != 0) return status.storage_code();
  switch (status.code()) {
    case Code::kInvalidArgument:
      return kInvalidParams;
    case Code::kInternal:
    case Code::kOk:  // Not reachable per contract; never report success.
      return kInternalError;
    default:
      return -32000 - static_cast<int>(status.code());
  }
}

std::string RpcErrorName(int code) {
  switch (code) {
    case kParseError: return "Parse error";
    case kInvalidRequest: return "Invalid request";
    case kMethodNotFound: return "Method not found";
    case kInvalidParams: return "Invalid params";
    case kInternalError: return "Internal error";
    default: break;
  }
  if (code <= -32000 && code >= -32099) {
    const int c = -32000 - code;
    if (c > 0 && c <= static_cast<int>(Code::kDataLoss)) {
      std::string name = "Server error (";
      name += CodeName(static_cast<Code>(c));
      name += ')';
      return name;
    }
    return "Server error";
  }
  return "Storage error " + std::to_string(code);
}

boost::json::object StatusToRpcError(const Status& status) {
  return StatusToRpcError(status, RpcErrorCode(status));
}

boost::json::object StatusToRpcError(const Status& status, int rpc_code) {
  boost::json::object data;
  data["status"] = CodeName(status.code());
  for (const StatusDetail& detail : status.details()) {
    if (detail.key == "status") {
      data["detail.status"] = detail.value;
    } else {
      data[detail.key] = detail.value;
    }
  }
  boost::json::object error;
  error.reserve(3);
  error["code"] = rpc_code;
  error["message"] = status.message();
  error["data"] = std::move(data);
  return error;
}

}  // namespace sanpool::agent
