#include "agent/json_params.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <limits>
#include <string>

#include "base/uuid.h"

namespace sanpool::agent {
namespace {

std::string Prefix(std::string_view name) {
  std::string out = "params.";
  out += name;
  out += ": ";
  return out;
}

Status ParamError(const ParamSpec& spec, std::string_view problem) {
  std::string message = Prefix(spec.name);
  message += problem;
  return InvalidArgumentError(std::move(message));
}

std::string QuoteShort(std::string_view value) { return '"' + PrintableExcerpt(value) + '"'; }

std::string JoinAllowed(const std::vector<std::string>& allowed) {
  std::string out;
  for (const std::string& a : allowed) {
    if (!out.empty()) out += ", ";
    out += a;
  }
  return out;
}

bool IsIntegral(const boost::json::value& v) {
  if (v.is_int64()) return true;
  if (v.is_uint64()) {
    return v.get_uint64() <=
           static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  return false;
}

Status TypeError(const ParamSpec& spec, const boost::json::value& value) {
  std::string problem = "expected ";
  problem += ParamTypeName(spec.type);
  problem += ", got ";
  problem += JsonTypeName(value);
  return ParamError(spec, problem);
}

Status CheckRange(const ParamSpec& spec, double v, const std::string& shown) {
  if (spec.min && v < static_cast<double>(*spec.min)) {
    return ParamError(spec, shown + " is below the minimum " + std::to_string(*spec.min));
  }
  if (spec.max && v > static_cast<double>(*spec.max)) {
    return ParamError(spec, shown + " is above the maximum " + std::to_string(*spec.max));
  }
  return Status::Ok();
}

Status ValidateOne(const ParamSpec& spec, const boost::json::value& value) {
  switch (spec.type) {
    case ParamType::kAny:
      return Status::Ok();
    case ParamType::kBool:
      return value.is_bool() ? Status::Ok() : TypeError(spec, value);
    case ParamType::kObject:
      return value.is_object() ? Status::Ok() : TypeError(spec, value);
    case ParamType::kArray: {
      if (!value.is_array()) return TypeError(spec, value);
      const size_t n = value.get_array().size();
      if (spec.max_length && n > *spec.max_length) {
        return ParamError(spec, std::to_string(n) + " elements exceed the maximum " +
                                    std::to_string(*spec.max_length));
      }
      return Status::Ok();
    }
    case ParamType::kInt: {
      if (!IsIntegral(value)) return TypeError(spec, value);
      const int64_t v = value.to_number<int64_t>();
      if (spec.min && v < *spec.min) {
        return ParamError(spec, std::to_string(v) + " is below the minimum " +
                                    std::to_string(*spec.min));
      }
      if (spec.max && v > *spec.max) {
        return ParamError(spec, std::to_string(v) + " is above the maximum " +
                                    std::to_string(*spec.max));
      }
      return Status::Ok();
    }
    case ParamType::kNumber: {
      if (!value.is_number()) return TypeError(spec, value);
      if (value.is_double()) {
        return CheckRange(spec, value.get_double(), std::to_string(value.get_double()));
      }
      if (value.is_uint64()) {
        return CheckRange(spec, static_cast<double>(value.get_uint64()),
                          std::to_string(value.get_uint64()));
      }
      return CheckRange(spec, static_cast<double>(value.get_int64()),
                        std::to_string(value.get_int64()));
    }
    case ParamType::kUuid: {
      if (!value.is_string()) return TypeError(spec, value);
      const boost::json::string& s = value.get_string();
      return ValidateUuid(std::string_view(s.data(), s.size()), "params." + spec.name);
    }
    case ParamType::kString: {
      if (!value.is_string()) return TypeError(spec, value);
      const boost::json::string& js = value.get_string();
      const std::string_view s(js.data(), js.size());
      if (spec.max_length && s.size() > *spec.max_length) {
        return ParamError(spec, "length " + std::to_string(s.size()) +
                                    " exceeds the maximum " +
                                    std::to_string(*spec.max_length));
      }
      if (!spec.allowed.empty()) {
        for (const std::string& a : spec.allowed) {
          if (s == a) return Status::Ok();
        }
        return ParamError(spec, QuoteShort(s) + " is not one of " + JoinAllowed(spec.allowed));
      }
      return Status::Ok();
    }
  }
  return ParamError(spec, "unsupported param type");
}

}  // namespace

std::string PrintableExcerpt(std::string_view value) {
  constexpr size_t kMaxShown = 64;
  // Cut on a UTF-8 character boundary: messages end up in JSON responses.
  size_t shown = value.size();
  if (shown > kMaxShown) {
    shown = kMaxShown;
    while (shown > 0 && (static_cast<unsigned char>(value[shown]) & 0xc0) == 0x80) --shown;
  }
  std::string out;
  for (size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < value.size()) out += "...";
  return out;
}

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString: return "string";
    case ParamType::kInt: return "integer";
    case ParamType::kBool: return "boolean";
    case ParamType::kObject: return "object";
    case ParamType::kArray: return "array";
    case ParamType::kUuid: return "uuid";
    case ParamType::kAny: return "any";
    case ParamType::kNumber: return "number";
  }
  return "unknown";
}

std::string_view JsonTypeName(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64: return "integer";
    case boost::json::kind::uint64: return IsIntegral(value) ? "integer" : "number";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

Status CheckParamSpec(const ParamSpec& spec) {
  if (spec.name.empty()) return InvalidArgumentError("param with an empty name");
  const bool numeric = spec.type == ParamType::kInt || spec.type == ParamType::kNumber;
  if ((spec.min || spec.max) && !numeric) {
    return InvalidArgumentError("param " + spec.name + ": min/max on a non-numeric type");
  }
  if (spec.min && spec.max && *spec.min > *spec.max) {
    return InvalidArgumentError("param " + spec.name + ": min > max");
  }
  if (spec.max_length && spec.type != ParamType::kString &&
      spec.type != ParamType::kArray) {
    return InvalidArgumentError("param " + spec.name +
                                ": max_length on a type other than string/array");
  }
  if (!spec.allowed.empty() && spec.type != ParamType::kString) {
    return InvalidArgumentError("param " + spec.name + ": allowed values on a non-string type");
  }
  return Status::Ok();
}

Status ValidateParams(const std::vector<ParamSpec>& specs,
                      const boost::json::object& params, ExtraParams extra) {
  for (const ParamSpec& spec : specs) {
    const boost::json::value* value = params.if_contains(spec.name);
    if (value == nullptr) {
      if (spec.presence == Presence::kRequired) {
        return ParamError(spec, "required param missing");
      }
      continue;
    }
    RETURN_IF_ERROR(ValidateOne(spec, *value));
  }
  if (extra == ExtraParams::kReject && params.size() > 0) {
    for (const auto& member : params) {
      bool declared = false;
      for (const ParamSpec& spec : specs) {
        if (spec.name == std::string_view(member.key())) {
          declared = true;
          break;
        }
      }
      if (!declared) {
        return InvalidArgumentError("params." + PrintableExcerpt(member.key()) + ": unknown param");
      }
    }
  }
  return Status::Ok();
}

std::string DescribeLimits(const ParamSpec& spec) {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) out += "; ";
    out += part;
  };
  if (spec.min && spec.max) {
    add(std::to_string(*spec.min) + " .. " + std::to_string(*spec.max));
  } else if (spec.min) {
    add(">= " + std::to_string(*spec.min));
  } else if (spec.max) {
    add("<= " + std::to_string(*spec.max));
  }
  if (spec.max_length) {
    add("max " + std::to_string(*spec.max_length) +
        (spec.type == ParamType::kArray ? " elements" : " bytes"));
  }
  if (!spec.allowed.empty()) add("one of: " + JoinAllowed(spec.allowed));
  if (spec.type == ParamType::kUuid) add("canonical 8-4-4-4-12 hex");
  return out;
}

}  // namespace sanpool::agent
