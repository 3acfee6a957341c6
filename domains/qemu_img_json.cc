#include "domains/qemu_img_json.h"

#include <boost/json.hpp>
#include <charconv>

#include "domains/storage_errors.h"

namespace sanpool {
namespace {

namespace json = boost::json;

Status Malformed(std::string_view what) {
  return Status(Code::kDataLoss,
                "qemu-img output: " + std::string(what),
                storage_code::kMiscFileReadException);
}

Result<json::value> Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Malformed("not JSON: " + ec.message());
  return v;
}

// A non-negative integer field; absent -> nullopt, wrong type -> error.
Result<std::optional<uint64_t>> OptionalSize(const json::object& obj,
                                             std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(),
                                                           key.size()));
  if (v == nullptr) return std::optional<uint64_t>();
  if (v->is_uint64()) return std::optional<uint64_t>(v->as_uint64());
  if (v->is_int64() && v->as_int64() >= 0) {
    return std::optional<uint64_t>(static_cast<uint64_t>(v->as_int64()));
  }
  return Malformed("field '" + std::string(key) + "' is not a size");
}

Result<uint64_t> RequiredSize(const json::object& obj, std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> v, OptionalSize(obj, key));
  if (!v) return Malformed("missing field '" + std::string(key) + "'");
  return *v;
}

Result<std::optional<std::string>> OptionalString(const json::object& obj,
                                                  std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(),
                                                           key.size()));
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return Malformed("field '" + std::string(key) + "' is not a string");
  }
  return std::optional<std::string>(std::string(v->as_string()));
}

bool OptionalBool(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(),
                                                           key.size()));
  return v != nullptr && v->is_bool() && v->as_bool();
}

Result<QemuImgInfo> InfoFromObject(const json::value& value) {
  if (!value.is_object()) return Malformed("info is not an object");
  const json::object& obj = value.as_object();
  QemuImgInfo info;
  ASSIGN_OR_RETURN(std::optional<std::string> filename,
                   OptionalString(obj, "filename"));
  ASSIGN_OR_RETURN(std::optional<std::string> format,
                   OptionalString(obj, "format"));
  if (!filename || !format) return Malformed("missing filename or format");
  info.filename = *filename;
  info.format = *format;
  ASSIGN_OR_RETURN(info.virtual_size, RequiredSize(obj, "virtual-size"));
  ASSIGN_OR_RETURN(info.actual_size, OptionalSize(obj, "actual-size"));
  ASSIGN_OR_RETURN(info.cluster_size, OptionalSize(obj, "cluster-size"));
  ASSIGN_OR_RETURN(info.backing_filename,
                   OptionalString(obj, "backing-filename"));
  ASSIGN_OR_RETURN(info.backing_format,
                   OptionalString(obj, "backing-filename-format"));
  info.dirty = OptionalBool(obj, "dirty-flag");
  const json::value* specific = obj.if_contains("format-specific");
  if (specific != nullptr && specific->is_object()) {
    const json::value* data = specific->as_object().if_contains("data");
    if (data != nullptr && data->is_object()) {
      ASSIGN_OR_RETURN(info.compat,
                       OptionalString(data->as_object(), "compat"));
      info.corrupt = OptionalBool(data->as_object(), "corrupt");
    }
  }
  return info;
}

}  // namespace

Result<QemuImgInfo> ParseQemuImgInfo(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text));
  return InfoFromObject(v);
}

Result<std::vector<QemuImgInfo>> ParseQemuImgInfoChain(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text));
  if (!v.is_array() || v.as_array().empty()) {
    return Malformed("backing chain is not a non-empty array");
  }
  std::vector<QemuImgInfo> chain;
  for (const json::value& item : v.as_array()) {
    ASSIGN_OR_RETURN(QemuImgInfo info, InfoFromObject(item));
    chain.push_back(std::move(info));
  }
  return chain;
}

Result<QemuImgCheck> ParseQemuImgCheck(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text));
  if (!v.is_object()) return Malformed("check is not an object");
  const json::object& obj = v.as_object();
  QemuImgCheck check;
  ASSIGN_OR_RETURN(check.image_end_offset,
                   OptionalSize(obj, "image-end-offset"));
  ASSIGN_OR_RETURN(auto errors, OptionalSize(obj, "check-errors"));
  ASSIGN_OR_RETURN(auto corruptions, OptionalSize(obj, "corruptions"));
  ASSIGN_OR_RETURN(auto leaks, OptionalSize(obj, "leaks"));
  check.check_errors = errors.value_or(0);
  check.corruptions = corruptions.value_or(0);
  check.leaks = leaks.value_or(0);
  return check;
}

Result<QemuImgMeasure> ParseQemuImgMeasure(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, Parse(text));
  if (!v.is_object()) return Malformed("measure is not an object");
  const json::object& obj = v.as_object();
  QemuImgMeasure m;
  ASSIGN_OR_RETURN(m.required, RequiredSize(obj, "required"));
  ASSIGN_OR_RETURN(m.fully_allocated, RequiredSize(obj, "fully-allocated"));
  ASSIGN_OR_RETURN(m.bitmaps, OptionalSize(obj, "bitmaps"));
  return m;
}

std::vector<double> ParseQemuImgProgress(std::string_view output) {
  std::vector<double> out;
  size_t pos = 0;
  while ((pos = output.find('(', pos)) != std::string_view::npos) {
    size_t slash = output.find("/100%)", pos);
    if (slash == std::string_view::npos) break;
    std::string_view number = output.substr(pos + 1, slash - pos - 1);
    double value = 0;
    auto [ptr, ec] =
        std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec == std::errc() && ptr == number.data() + number.size() &&
        value >= 0 && value <= 100) {
      out.push_back(value);
    }
    pos = pos + 1;
  }
  return out;
}

}  // namespace sanpool
