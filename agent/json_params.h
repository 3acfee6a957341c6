// Declared JSON-RPC parameters and their validation.
//
// Every method declares its named params as ParamSpecs; the registry checks a
// request's params object against them before the handler runs, so handlers
// may read declared params without re-checking presence or type:
//
//   {.name = "size", .type = ParamType::kInt, .presence = Presence::kRequired,
//    .description = "New size in bytes", .min = 1, .max = 1LL << 50}
//
// Validation rules (first failure wins; specs are checked in declaration
// order, then unknown params):
//   - a missing kRequired param        "params.size: required param missing"
//   - a present param of the wrong type "params.size: expected integer, got string"
//     (null is a type of its own: only kAny accepts it; an optional param that
//     is not wanted must be left out)
//   - kInt: an integral JSON number within int64 (5.0 is a float, not an int);
//     min/max inclusive               "params.size: 0 is below the minimum 1"
//   - kString: max_length in bytes; allowed = exact enum values
//                                     "params.format: \"XYZ\" is not one of COW, RAW"
//   - kArray: max_length = maximum number of elements
//   - kUuid: a string passing base/uuid.h ValidateUuid
//   - kNumber: any JSON number; min/max apply too (as doubles)
//   - a param not declared             "params.foo: unknown param"
//     unless the method sets ExtraParams::kAllow.
// All failures are kInvalidArgument and name the param.
//
// Thread-safety: pure functions over const data.
#ifndef SANPOOL_AGENT_JSON_PARAMS_H_
#define SANPOOL_AGENT_JSON_PARAMS_H_

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::agent {

enum class ParamType { kString, kInt, kBool, kObject, kArray, kUuid, kAny, kNumber };
enum class Presence { kRequired, kOptional };
// Whether params not declared in the spec are accepted (and passed through).
enum class ExtraParams { kReject, kAllow };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  Presence presence = Presence::kRequired;
  std::string description;
  // Inclusive bounds; kInt and kNumber only.
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  // Bytes for kString, elements for kArray.
  std::optional<size_t> max_length;
  // Allowed values; kString only. Empty = any.
  std::vector<std::string> allowed;
};

// "string", "integer", "boolean", "object", "array", "uuid", "any", "number".
std::string_view ParamTypeName(ParamType type);

// The JSON type name of a value as used in messages: "string", "integer",
// "number" (non-integral or out of int64 range), "boolean", "object",
// "array", "null".
std::string_view JsonTypeName(const boost::json::value& value);

// Checks one spec for internal consistency (non-empty name, limits that fit
// the type, min <= max). Used by MethodRegistry::Register.
Status CheckParamSpec(const ParamSpec& spec);

// Validates `params` against `specs` (rules above). OK or kInvalidArgument.
Status ValidateParams(const std::vector<ParamSpec>& specs,
                      const boost::json::object& params, ExtraParams extra);

// A short rendering of client-supplied text for error messages: at most 64
// bytes cut on a UTF-8 boundary (then "..."), control characters as '?',
// quotes and backslashes escaped.
std::string PrintableExcerpt(std::string_view value);

// Human-readable limits for docs: "1 .. 100", "max 255 bytes",
// "one of: COW, RAW", "" when none.
std::string DescribeLimits(const ParamSpec& spec);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_JSON_PARAMS_H_
