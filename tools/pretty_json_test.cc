#include "tools/pretty_json.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace sanpool::tools {
namespace {

std::string Pretty(const char* text) { return PrettyJson(boost::json::parse(text)); }

TEST_CASE("pretty JSON prints scalars as compact JSON") {
  CHECK(Pretty("\"a\\\"b\"") == "\"a\\\"b\"");
  CHECK(Pretty("42") == "42");
  CHECK(Pretty("null") == "null");
  CHECK(Pretty("{}") == "{}");
  CHECK(Pretty("[]") == "[]");
}

TEST_CASE("pretty JSON indents nested containers by two spaces") {
  CHECK(Pretty(R"({"a":1,"b":[true,{"c":"x"}],"d":{}})") ==
        "{\n"
        "  \"a\": 1,\n"
        "  \"b\": [\n"
        "    true,\n"
        "    {\n"
        "      \"c\": \"x\"\n"
        "    }\n"
        "  ],\n"
        "  \"d\": {}\n"
        "}");
}

TEST_CASE("pretty JSON output parses back to the same value") {
  boost::json::value v = boost::json::parse(R"({"k\n":[1,2.5,"s",null,{"z":[]}]})");
  CHECK(boost::json::parse(PrettyJson(v)) == v);
}

}  // namespace
}  // namespace sanpool::tools
