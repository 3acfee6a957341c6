#include "agent/json_params.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

namespace json = boost::json;

std::string Check(const ParamSpec& spec, const char* params_json,
                  ExtraParams extra = ExtraParams::kReject) {
  const Status s = ValidateParams({spec}, json::parse(params_json).as_object(), extra);
  if (s.ok()) return "ok";
  CHECK(s.code() == Code::kInvalidArgument);
  return std::string(s.message());
}

TEST_CASE("Integers: type, int64 range and limits") {
  const ParamSpec spec{.name = "size", .type = ParamType::kInt, .min = -5, .max = 10};
  CHECK(Check(spec, R"({"size":10})") == "ok");
  CHECK(Check(spec, R"({"size":-5})") == "ok");
  CHECK(Check(spec, R"({"size":"1"})") == "params.size: expected integer, got string");
  CHECK(Check(spec, R"({"size":1.5})") == "params.size: expected integer, got number");
  CHECK(Check(spec, R"({"size":true})") == "params.size: expected integer, got boolean");
  CHECK(Check(spec, R"({"size":11})") == "params.size: 11 is above the maximum 10");
  CHECK(Check(spec, R"({"size":-6})") == "params.size: -6 is below the minimum -5");
  const ParamSpec unbounded{.name = "n", .type = ParamType::kInt};
  CHECK(Check(unbounded, R"({"n":9223372036854775807})") == "ok");
  CHECK(Check(unbounded, R"({"n":9223372036854775808})") ==
        "params.n: expected integer, got number");
}

TEST_CASE("Numbers accept integers and floats within limits") {
  const ParamSpec spec{.name = "ratio", .type = ParamType::kNumber, .min = 0, .max = 2};
  CHECK(Check(spec, R"({"ratio":1.5})") == "ok");
  CHECK(Check(spec, R"({"ratio":2})") == "ok");
  CHECK(Check(spec, R"({"ratio":"1"})") == "params.ratio: expected number, got string");
  CHECK(Check(spec, R"({"ratio":2.5})").starts_with("params.ratio: 2.5"));
}

TEST_CASE("Strings: max length and allowed values") {
  const ParamSpec spec{.name = "format", .type = ParamType::kString, .max_length = 4,
                       .allowed = {"COW", "RAW"}};
  CHECK(Check(spec, R"({"format":"RAW"})") == "ok");
  CHECK(Check(spec, R"({"format":"raw"})") == R"(params.format: "raw" is not one of COW, RAW)");
  CHECK(Check(spec, R"({"format":"QCOW2"})") == "params.format: length 5 exceeds the maximum 4");
}

TEST_CASE("Booleans, objects, arrays, any") {
  CHECK(Check({.name = "b", .type = ParamType::kBool}, R"({"b":0})") ==
        "params.b: expected boolean, got integer");
  CHECK(Check({.name = "o", .type = ParamType::kObject}, R"({"o":[]})") ==
        "params.o: expected object, got array");
  const ParamSpec arr{.name = "a", .type = ParamType::kArray, .max_length = 2};
  CHECK(Check(arr, R"({"a":[1,2]})") == "ok");
  CHECK(Check(arr, R"({"a":[1,2,3]})") == "params.a: 3 elements exceed the maximum 2");
  CHECK(Check({.name = "x", .type = ParamType::kAny}, R"({"x":null})") == "ok");
}

TEST_CASE("UUID params must be canonical") {
  const ParamSpec spec{.name = "sdUUID", .type = ParamType::kUuid};
  CHECK(Check(spec, R"({"sdUUID":"5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a"})") == "ok");
  CHECK(Check(spec, R"({"sdUUID":"{5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a}"})")
            .starts_with("params.sdUUID: not a canonical UUID"));
  CHECK(Check(spec, R"({"sdUUID":7})") == "params.sdUUID: expected uuid, got integer");
}

TEST_CASE("Presence, null and unknown params") {
  const ParamSpec required{.name = "r", .type = ParamType::kString};
  const ParamSpec optional{.name = "o", .type = ParamType::kString,
                           .presence = Presence::kOptional};
  CHECK(Check(required, "{}") == "params.r: required param missing");
  CHECK(Check(optional, "{}") == "ok");
  CHECK(Check(optional, R"({"o":null})") == "params.o: expected string, got null");
  CHECK(Check(optional, R"({"zz":1})") == "params.zz: unknown param");
  CHECK(Check(optional, R"({"zz":1})", ExtraParams::kAllow) == "ok");
}

TEST_CASE("The first failing spec in declaration order is reported") {
  const Status s = ValidateParams({{.name = "a", .type = ParamType::kInt},
                                   {.name = "b", .type = ParamType::kInt}},
                                  json::parse(R"({"b":"x","a":"y"})").as_object(),
                                  ExtraParams::kReject);
  CHECK(s.message() == "params.a: expected integer, got string");
}

TEST_CASE("Inconsistent specs are refused") {
  CHECK_FALSE(CheckParamSpec({.name = ""}).ok());
  CHECK_FALSE(CheckParamSpec({.name = "s", .type = ParamType::kString, .min = 1}).ok());
  CHECK_FALSE(CheckParamSpec({.name = "n", .type = ParamType::kInt, .min = 5, .max = 1}).ok());
  CHECK_FALSE(CheckParamSpec({.name = "n", .type = ParamType::kInt, .max_length = 1}).ok());
  CHECK_FALSE(CheckParamSpec({.name = "n", .type = ParamType::kInt, .allowed = {"a"}}).ok());
  CHECK(CheckParamSpec({.name = "n", .type = ParamType::kInt, .min = 1, .max = 1}).ok());
}

TEST_CASE("Limits are described for the docs") {
  CHECK(DescribeLimits({.name = "n", .type = ParamType::kInt, .min = 1, .max = 9}) == "1 .. 9");
  CHECK(DescribeLimits({.name = "n", .type = ParamType::kInt, .min = 1}) == ">= 1");
  CHECK(DescribeLimits({.name = "s", .type = ParamType::kString, .max_length = 8,
                        .allowed = {"A", "B"}}) == "max 8 bytes; one of: A, B");
  CHECK(DescribeLimits({.name = "u", .type = ParamType::kUuid}) == "canonical 8-4-4-4-12 hex");
  CHECK(DescribeLimits({.name = "x", .type = ParamType::kAny}).empty());
}

TEST_CASE("PrintableExcerpt cuts on a UTF-8 boundary and hides control bytes") {
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "\xc3\xa9";
  const std::string cut = PrintableExcerpt(long_text);
  CHECK(cut.ends_with("..."));
  CHECK(cut.size() == 64 + 3);
  CHECK(PrintableExcerpt("a\nb\"") == "a?b\\\"");
}

}  // namespace
}  // namespace sanpool::agent
