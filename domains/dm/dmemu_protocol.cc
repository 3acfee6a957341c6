#include "domains/dm/dmemu_protocol.h"

#include <array>
#include <limits>
#include <utility>

#include <boost/json.hpp>

namespace sanpool::dm {
namespace {

namespace json = boost::json;

constexpr std::array<std::pair<DmemuOp, std::string_view>, 7> kOps = {{
    {DmemuOp::kCreate, "create"},
    {DmemuOp::kReload, "reload"},
    {DmemuOp::kRemove, "remove"},
    {DmemuOp::kInfo, "info"},
    {DmemuOp::kList, "list"},
    {DmemuOp::kFault, "fault"},
    {DmemuOp::kClear, "clear"},
}};

std::string_view OpName(DmemuOp op) {
  for (const auto& [value, name] : kOps) {
    if (value == op) return name;
  }
  return "list";
}

Code CodeFromName(std::string_view name) {
  for (int i = 1; i <= static_cast<int>(Code::kDataLoss); ++i) {
    if (CodeName(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  }
  return Code::kUnknown;
}

Result<json::object> ParseObject(std::string_view line) {
  boost::system::error_code ec;
  json::value value = json::parse(line, ec);
  if (ec) return InvalidArgumentError("not JSON: " + ec.message());
  if (!value.is_object()) return InvalidArgumentError("not a JSON object");
  return std::move(value.as_object());
}

Status GetString(const json::object& obj, std::string_view key,
                 std::string* out) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_string()) {
    return InvalidArgumentError(std::string(key) + " must be a string");
  }
  *out = std::string(v->as_string());
  return Status::Ok();
}

Status GetBool(const json::object& obj, std::string_view key, bool* out) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_bool()) {
    return InvalidArgumentError(std::string(key) + " must be a boolean");
  }
  *out = v->as_bool();
  return Status::Ok();
}

template <typename T>
Status GetUnsigned(const json::object& obj, std::string_view key, T* out) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return Status::Ok();
  uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->as_uint64();
  } else if (v->is_int64() && v->as_int64() >= 0) {
    n = static_cast<uint64_t>(v->as_int64());
  } else {
    return InvalidArgumentError(std::string(key) +
                                " must be a non-negative integer");
  }
  if (n > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
    return InvalidArgumentError(std::string(key) + " out of range");
  }
  *out = static_cast<T>(n);
  return Status::Ok();
}

json::array EncodeTable(const Table& table) {
  json::array out;
  for (const LinearSegment& s : table) {
    out.push_back(json::object{{"start", s.start_sector},
                               {"length", s.length_sectors},
                               {"device", s.device},
                               {"offset", s.device_offset_sector}});
  }
  return out;
}

Result<Table> DecodeTable(const json::object& obj) {
  Table table;
  const json::value* v = obj.if_contains("table");
  if (v == nullptr) return table;
  if (!v->is_array()) return InvalidArgumentError("table must be an array");
  for (const json::value& item : v->as_array()) {
    if (!item.is_object()) {
      return InvalidArgumentError("table segment must be an object");
    }
    const json::object& seg = item.as_object();
    LinearSegment s;
    RETURN_IF_ERROR(GetUnsigned(seg, "start", &s.start_sector));
    RETURN_IF_ERROR(GetUnsigned(seg, "length", &s.length_sectors));
    RETURN_IF_ERROR(GetString(seg, "device", &s.device));
    RETURN_IF_ERROR(GetUnsigned(seg, "offset", &s.device_offset_sector));
    table.push_back(std::move(s));
  }
  return table;
}

}  // namespace

std::string EncodeRequest(const DmemuRequest& request) {
  json::object obj;
  obj["op"] = OpName(request.op);
  if (request.op != DmemuOp::kList) obj["name"] = request.name;
  switch (request.op) {
    case DmemuOp::kCreate:
      obj["uuid"] = request.uuid;
      obj["table"] = EncodeTable(request.table);
      break;
    case DmemuOp::kReload:
      obj["table"] = EncodeTable(request.table);
      break;
    case DmemuOp::kRemove:
      obj["force"] = request.remove_mode == RemoveMode::kForce;
      break;
    case DmemuOp::kFault:
      obj["read_delay_ms"] = request.faults.read_delay_ms;
      obj["write_delay_ms"] = request.faults.write_delay_ms;
      obj["read_error"] = request.faults.read_error;
      obj["write_error"] = request.faults.write_error;
      obj["hang"] = request.faults.hang;
      break;
    case DmemuOp::kInfo:
    case DmemuOp::kList:
    case DmemuOp::kClear:
      break;
  }
  return json::serialize(obj);
}

Result<DmemuRequest> DecodeRequest(std::string_view line) {
  ASSIGN_OR_RETURN(json::object obj, ParseObject(line));
  DmemuRequest request;
  std::string op;
  RETURN_IF_ERROR(GetString(obj, "op", &op));
  bool known = false;
  for (const auto& [value, name] : kOps) {
    if (name == op) {
      request.op = value;
      known = true;
    }
  }
  if (!known) return InvalidArgumentError("unknown op '" + op + "'");
  RETURN_IF_ERROR(GetString(obj, "name", &request.name));
  RETURN_IF_ERROR(GetString(obj, "uuid", &request.uuid));
  ASSIGN_OR_RETURN(request.table, DecodeTable(obj));
  bool force = false;
  RETURN_IF_ERROR(GetBool(obj, "force", &force));
  request.remove_mode = force ? RemoveMode::kForce : RemoveMode::kNormal;
  FaultSpec& f = request.faults;
  RETURN_IF_ERROR(GetUnsigned(obj, "read_delay_ms", &f.read_delay_ms));
  RETURN_IF_ERROR(GetUnsigned(obj, "write_delay_ms", &f.write_delay_ms));
  RETURN_IF_ERROR(GetBool(obj, "read_error", &f.read_error));
  RETURN_IF_ERROR(GetBool(obj, "write_error", &f.write_error));
  RETURN_IF_ERROR(GetBool(obj, "hang", &f.hang));
  return request;
}

std::string EncodeResponse(const DmemuResponse& response) {
  json::object obj;
  obj["ok"] = response.status.ok();
  if (!response.status.ok()) {
    obj["error"] = json::object{
        {"code", CodeName(response.status.code())},
        {"message", response.status.message()}};
    return json::serialize(obj);
  }
  obj["info"] = json::object{{"exists", response.info.exists},
                             {"size", response.info.size_bytes},
                             {"open_count", response.info.open_count},
                             {"read_only", response.info.read_only},
                             {"device", response.device}};
  json::array names;
  for (const std::string& n : response.names) names.push_back(json::value(n));
  obj["names"] = std::move(names);
  return json::serialize(obj);
}

Result<DmemuResponse> DecodeResponse(std::string_view line) {
  ASSIGN_OR_RETURN(json::object obj, ParseObject(line));
  DmemuResponse response;
  bool ok = false;
  RETURN_IF_ERROR(GetBool(obj, "ok", &ok));
  if (!ok) {
    const json::value* err = obj.if_contains("error");
    if (err == nullptr || !err->is_object()) {
      return InvalidArgumentError("error answer without an error object");
    }
    std::string code = "UNKNOWN";
    std::string message;
    RETURN_IF_ERROR(GetString(err->as_object(), "code", &code));
    RETURN_IF_ERROR(GetString(err->as_object(), "message", &message));
    Code parsed = CodeFromName(code);
    response.status = Status(parsed == Code::kOk ? Code::kUnknown : parsed,
                             "dmemu: " + message);
    return response;
  }
  if (const json::value* info = obj.if_contains("info")) {
    if (!info->is_object()) return InvalidArgumentError("info must be object");
    const json::object& i = info->as_object();
    RETURN_IF_ERROR(GetBool(i, "exists", &response.info.exists));
    RETURN_IF_ERROR(GetUnsigned(i, "size", &response.info.size_bytes));
    RETURN_IF_ERROR(GetUnsigned(i, "open_count", &response.info.open_count));
    RETURN_IF_ERROR(GetBool(i, "read_only", &response.info.read_only));
    RETURN_IF_ERROR(GetString(i, "device", &response.device));
  }
  if (const json::value* names = obj.if_contains("names")) {
    if (!names->is_array()) return InvalidArgumentError("names must be array");
    for (const json::value& n : names->as_array()) {
      if (!n.is_string()) return InvalidArgumentError("name must be string");
      response.names.emplace_back(n.as_string());
    }
  }
  return response;
}

}  // namespace sanpool::dm
