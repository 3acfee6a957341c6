#include "base/uuid.h"

#include <catch2/catch.hpp>
#include <string>

namespace sanpool {
namespace {

TEST_CASE("IsValidUuid accepts canonical lowercase and uppercase UUIDs") {
  CHECK(IsValidUuid("5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a"));
  CHECK(IsValidUuid("5C7E1B9A-0D3F-4E6A-9B2C-1F2E3D4C5B6A"));
  CHECK(IsValidUuid("00000000-0000-0000-0000-000000000000"));
  CHECK(IsValidUuid("ffffffff-FFFF-ffff-FFFF-ffffffffffff"));
}

TEST_CASE("IsValidUuid rejects non-canonical forms") {
  const char* bad[] = {
      "",
      "5c7e1b9a0d3f4e6a9b2c1f2e3d4c5b6a",          // no dashes
      "{5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a}",    // braces
      "urn:uuid:5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a",
      " 5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a",     // leading space
      "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a ",     // trailing space
      "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6",       // short
      "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a0",     // long
      "5c7e1b9a-0d3f-4e6a-9b2c1-f2e3d4c5b6a",      // dash misplaced
      "5c7e1b9g-0d3f-4e6a-9b2c-1f2e3d4c5b6a",      // not hex
      "../../../../etc/passwd/aaaaaaaaaaaaaaaaa",  // 36 chars, path
      "5c7e1b9a/0d3f/4e6a/9b2c/1f2e3d4c5b6a",
      "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b\n",
  };
  for (const char* value : bad) {
    INFO(value);
    CHECK_FALSE(IsValidUuid(value));
  }
  CHECK_FALSE(IsValidUuid(std::string("5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6\0", 36)));
}

TEST_CASE("ValidateUuid names what was wrong") {
  CHECK(ValidateUuid("5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a", "params.sdUUID").ok());
  Status s = ValidateUuid("not-a-uuid", "params.sdUUID");
  REQUIRE(s.code() == Code::kInvalidArgument);
  CHECK(s.message().starts_with("params.sdUUID: not a canonical UUID"));
  CHECK(s.message().find("\"not-a-uuid\"") != std::string_view::npos);
}

TEST_CASE("ValidateUuid escapes and truncates hostile input in its message") {
  Status s = ValidateUuid(std::string("a\nb\"c") + std::string(100, 'x'), "volume");
  REQUIRE_FALSE(s.ok());
  const std::string_view m = s.message();
  CHECK(m.find('\n') == std::string_view::npos);
  CHECK(m.find("\\x0a") != std::string_view::npos);
  CHECK(m.find("\\\"") != std::string_view::npos);
  CHECK(m.find("...") != std::string_view::npos);
  CHECK(m.size() < 150);
}

}  // namespace
}  // namespace sanpool
