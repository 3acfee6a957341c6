#include "domains/dm/dmemu_protocol.h"

#include <catch2/catch.hpp>

namespace sanpool::dm {
namespace {

Table OneSegment() {
  return {{.start_sector = 0, .length_sectors = 4096, .device = "/dev/loop3",
           .device_offset_sector = 2048}};
}

TEST_CASE("every request round-trips through its JSON line") {
  std::vector<DmemuRequest> requests = {
      {.op = DmemuOp::kCreate, .name = "vg-lv", .uuid = "LVM-x",
       .table = OneSegment()},
      {.op = DmemuOp::kReload, .name = "vg-lv", .table = OneSegment()},
      {.op = DmemuOp::kRemove, .name = "vg-lv",
       .remove_mode = RemoveMode::kForce},
      {.op = DmemuOp::kInfo, .name = "vg-lv"},
      {.op = DmemuOp::kList},
      {.op = DmemuOp::kFault, .name = "vg-lv",
       .faults = {.read_delay_ms = 5, .write_delay_ms = 7,
                  .read_error = true, .write_error = false, .hang = true}},
      {.op = DmemuOp::kClear, .name = "vg-lv"},
  };
  for (const DmemuRequest& request : requests) {
    std::string line = EncodeRequest(request);
    CHECK(line.find('\n') == std::string::npos);
    auto decoded = DecodeRequest(line);
    REQUIRE(decoded.ok());
    CHECK(decoded->op == request.op);
    CHECK(decoded->name == request.name);
    CHECK(decoded->uuid == request.uuid);
    CHECK(decoded->table == request.table);
    CHECK(decoded->remove_mode == request.remove_mode);
    CHECK(decoded->faults == request.faults);
  }
}

TEST_CASE("the wire format is the documented one") {
  auto request = DecodeRequest(
      R"({"op":"create","name":"a-b","uuid":"u","table":[)"
      R"({"start":0,"length":8,"device":"/dev/loop0","offset":16}],"extra":1})");
  REQUIRE(request.ok());
  CHECK(request->op == DmemuOp::kCreate);
  CHECK(request->table == Table{{.start_sector = 0, .length_sectors = 8,
                                 .device = "/dev/loop0",
                                 .device_offset_sector = 16}});
  CHECK(EncodeRequest({.op = DmemuOp::kRemove, .name = "x"}) ==
        R"({"op":"remove","name":"x","force":false})");
}

TEST_CASE("malformed requests are invalid arguments") {
  for (const char* line :
       {"", "nope", "[]", R"({"op":"explode"})", R"({"name":"x"})",
        R"({"op":"info","name":7})", R"({"op":"remove","force":"yes"})",
        R"({"op":"create","table":{}})", R"({"op":"create","table":[1]})",
        R"({"op":"create","table":[{"start":-1}]})",
        R"({"op":"fault","read_delay_ms":5000000000})"}) {
    INFO(line);
    CHECK(DecodeRequest(line).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("responses carry info, names or the error code") {
  DmemuResponse ok;
  ok.info = {.exists = true, .size_bytes = 1 << 20, .open_count = 2,
             .read_only = false};
  ok.device = "/dev/loop9";
  ok.names = {"a-b", "c-d"};
  auto decoded = DecodeResponse(EncodeResponse(ok));
  REQUIRE(decoded.ok());
  CHECK(decoded->status.ok());
  CHECK(decoded->info.exists);
  CHECK(decoded->info.size_bytes == 1 << 20);
  CHECK(decoded->info.open_count == 2);
  CHECK(decoded->device == "/dev/loop9");
  CHECK(decoded->names == std::vector<std::string>{"a-b", "c-d"});

  DmemuResponse failed;
  failed.status = FailedPreconditionError("device is open");
  auto error = DecodeResponse(EncodeResponse(failed));
  REQUIRE(error.ok());
  CHECK(error->status.code() == Code::kFailedPrecondition);
  CHECK(error->status.message() == "dmemu: device is open");

  auto unknown = DecodeResponse(
      R"({"ok":false,"error":{"code":"BOGUS","message":"m"}})");
  REQUIRE(unknown.ok());
  CHECK(unknown->status.code() == Code::kUnknown);
  CHECK(!DecodeResponse(R"({"ok":false})").ok());
  CHECK(!DecodeResponse(R"({"ok":true,"names":[1]})").ok());
}

}  // namespace
}  // namespace sanpool::dm
