#include "agent/rpc_dispatcher.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "agent/rpc_errors.h"
#include "agent/rpc_test_util.h"
#include "base/log.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using testing::DispatcherRig;
using testing::IsResponseObject;
using testing::ParseJson;

// The error object of a single response; fails when it is not an error.
json::object ErrorOf(const std::string& response) {
  json::value v = ParseJson(response);
  INFO(response);
  REQUIRE(IsResponseObject(v));
  REQUIRE(v.as_object().contains("error"));
  return v.as_object().at("error").as_object();
}

int64_t ErrorCode(const std::string& response) { return ErrorOf(response).at("code").as_int64(); }

std::string ErrorMessage(const std::string& response) {
  return std::string(ErrorOf(response).at("message").as_string());
}

json::value ResultOf(const std::string& response) {
  json::value v = ParseJson(response);
  INFO(response);
  REQUIRE(IsResponseObject(v));
  REQUIRE(v.as_object().contains("result"));
  return v.as_object().at("result");
}

json::value IdOf(const std::string& response) {
  json::value v = ParseJson(response);
  REQUIRE(v.is_object());
  return v.as_object().at("id");
}

TEST_CASE("An inline method answers before Handle returns") {
  DispatcherRig rig;
  auto record = rig.Start(R"({"jsonrpc":"2.0","id":1,"method":"Test.ping"})");
  CHECK(record->calls() == 1);
  CHECK(record->Wait() == R"({"jsonrpc":"2.0","id":1,"result":true})");
}

TEST_CASE("Named params reach the handler") {
  DispatcherRig rig;
  const std::string r = rig.Call(
      R"({"jsonrpc":"2.0","id":"a","method":"Test.echo","params":{"text":"hi","n":5}})");
  CHECK(ResultOf(r) == json::parse(R"({"text":"hi","n":5})"));
}

TEST_CASE("The response echoes the id exactly") {
  DispatcherRig rig;
  const char* ids[] = {R"("abc")", R"("\u00e9\"x")", "0", "-17", "9007199254740993",
                       "18446744073709551615", "null", R"("")"};
  for (const char* id : ids) {
    INFO(id);
    const std::string r =
        rig.Call(std::string(R"({"jsonrpc":"2.0","method":"Test.ping","id":)") + id + "}");
    CHECK(IdOf(r) == json::parse(id));
    CHECK(r.find(std::string(R"("id":)") + json::serialize(json::parse(id))) !=
          std::string::npos);
  }
  // Integers come back byte for byte.
  CHECK(rig.Call(R"({"jsonrpc":"2.0","method":"Test.ping","id":9007199254740993})")
            .find(R"("id":9007199254740993)") != std::string::npos);
}

TEST_CASE("Invalid id types are invalid requests with id null") {
  DispatcherRig rig;
  for (const char* id : {"{}", "[]", "true", "false", R"({"a":1})", "[1]"}) {
    INFO(id);
    const std::string r =
        rig.Call(std::string(R"({"jsonrpc":"2.0","method":"Test.ping","id":)") + id + "}");
    CHECK(ErrorCode(r) == kInvalidRequest);
    CHECK(IdOf(r).is_null());
    CHECK(ErrorMessage(r) == "id must be a string, a number or null");
  }
}

TEST_CASE("Malformed JSON is a parse error with id null") {
  DispatcherRig rig;
  for (const char* body : {"", "{", R"({"jsonrpc":"2.0",})", "nul", "[1,2", "{} {}",
                           "\xff\xfe", R"({"a":"\ud800"})"}) {
    INFO(body);
    const std::string r = rig.Call(body);
    CHECK(ErrorCode(r) == kParseError);
    CHECK(IdOf(r).is_null());
    CHECK(ErrorMessage(r).starts_with("parse error at byte "));
    CHECK(ErrorOf(r).at("data").at("status") == "INVALID_ARGUMENT");
  }
}

TEST_CASE("Deep nesting is a parse error, not a stack overflow") {
  DispatcherRig rig;
  const std::string body = std::string(100000, '[') + std::string(100000, ']');
  CHECK(ErrorCode(rig.Call(body)) == kParseError);
}

TEST_CASE("Non-request JSON values are invalid requests") {
  DispatcherRig rig;
  for (const char* body : {"1", R"("x")", "null", "true"}) {
    INFO(body);
    CHECK(ErrorCode(rig.Call(body)) == kInvalidRequest);
  }
}

TEST_CASE("Envelope errors are invalid requests and keep a valid id") {
  DispatcherRig rig;
  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {R"({"id":7,"method":"Test.ping"})", R"(jsonrpc must be "2.0")"},
      {R"({"jsonrpc":"1.0","id":7,"method":"Test.ping"})", R"(jsonrpc must be "2.0")"},
      {R"({"jsonrpc":2.0,"id":7,"method":"Test.ping"})", R"(jsonrpc must be "2.0")"},
      {R"({"jsonrpc":"2.0","id":7})", "method must be a string"},
      {R"({"jsonrpc":"2.0","id":7,"method":5})", "method must be a string"},
      {R"({"jsonrpc":"2.0","id":7,"method":"Test.ping","params":"x"})",
       "params must be an object"},
      {R"({"jsonrpc":"2.0","id":7,"method":"Test.ping","params":3})",
       "params must be an object"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    const std::string r = rig.Call(c.body);
    CHECK(ErrorCode(r) == kInvalidRequest);
    CHECK(ErrorMessage(r) == c.message);
    CHECK(IdOf(r) == 7);
  }
}

TEST_CASE("Positional params are rejected with -32602 and a clear message") {
  DispatcherRig rig;
  const std::string r =
      rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.echo","params":["hi"]})");
  CHECK(ErrorCode(r) == kInvalidParams);
  CHECK(ErrorMessage(r) ==
        "params: positional params are not supported; pass an object of named params");
}

TEST_CASE("Unknown methods are -32601") {
  DispatcherRig rig;
  const std::string r = rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Nope.nothing"})");
  CHECK(ErrorCode(r) == kMethodNotFound);
  CHECK(ErrorMessage(r) == "method not found: Nope.nothing");
  CHECK(rig.metrics->RequestCount("unknown", kMethodNotFound) == 1);
}

TEST_CASE("A long unknown method name is cut without breaking UTF-8") {
  DispatcherRig rig;
  std::string name;
  for (int i = 0; i < 50; ++i) name += "\xc3\xa9";  // 'é', 2 bytes
  const std::string r =
      rig.Call(R"({"jsonrpc":"2.0","id":1,"method":")" + name + R"("})");
  CHECK(ErrorCode(r) == kMethodNotFound);
  CHECK(ErrorMessage(r).ends_with("..."));
}

TEST_CASE("Param validation errors name the param and the problem") {
  DispatcherRig rig;
  struct Case {
    const char* params;
    const char* message;
  };
  const Case cases[] = {
      {R"({})", "params.text: required param missing"},
      {R"({"text":5})", "params.text: expected string, got integer"},
      {R"({"text":null})", "params.text: expected string, got null"},
      {R"({"text":"0123456789abcdefg"})", "params.text: length 17 exceeds the maximum 16"},
      {R"({"text":"x","n":"5"})", "params.n: expected integer, got string"},
      {R"({"text":"x","n":5.0})", "params.n: expected integer, got number"},
      {R"({"text":"x","n":0})", "params.n: 0 is below the minimum 1"},
      {R"({"text":"x","n":101})", "params.n: 101 is above the maximum 100"},
      {R"({"text":"x","format":"QCOW"})", R"(params.format: "QCOW" is not one of COW, RAW)"},
      {R"({"text":"x","volume":"../etc"})",
       R"(params.volume: not a canonical UUID (expected 8-4-4-4-12 hex digits): "../etc")"},
      {R"({"text":"x","bogus":1})", "params.bogus: unknown param"},
  };
  for (const Case& c : cases) {
    INFO(c.params);
    const std::string r = rig.Call(
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"Test.echo","params":)") + c.params +
        "}");
    CHECK(ErrorCode(r) == kInvalidParams);
    CHECK(ErrorMessage(r) == c.message);
  }
}

TEST_CASE("A method may opt into undeclared params") {
  DispatcherRig rig;
  const std::string r = rig.Call(
      R"({"jsonrpc":"2.0","id":1,"method":"Test.extra","params":{"a":1,"b":[true]}})");
  CHECK(ResultOf(r) == json::parse(R"({"a":1,"b":[true]})"));
}

TEST_CASE("Handler errors map through the Status mapping") {
  DispatcherRig rig;
  const std::string not_found = rig.Call(
      R"({"jsonrpc":"2.0","id":1,"method":"Test.fail","params":{"code":5}})");
  CHECK(ErrorCode(not_found) == -32005);
  CHECK(ErrorMessage(not_found) == "it failed");
  CHECK(ErrorOf(not_found).at("data") == json::parse(R"({"status":"NOT_FOUND","path":"/x"})"));

  const std::string not_spm = rig.Call(
      R"({"jsonrpc":"2.0","id":1,"method":"Test.fail","params":{"code":9,"storage_code":654}})");
  CHECK(ErrorCode(not_spm) == 654);
  CHECK(ErrorOf(not_spm).at("data").at("status") == "FAILED_PRECONDITION");
}

TEST_CASE("A throwing handler is an internal error and is logged") {
  std::vector<std::string> lines;
  std::mutex mu;
  log::SetSink([&](log::Level, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  DispatcherRig rig;
  const std::string r = rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.throw"})");
  log::SetSink(nullptr);
  CHECK(ErrorCode(r) == kInternalError);
  CHECK(ErrorMessage(r) == "internal error");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("method threw") != std::string::npos);
  CHECK(lines[0].find("boom") != std::string::npos);
}

TEST_CASE("Notifications get no response, even on error") {
  DispatcherRig rig;
  for (const char* body : {
           R"({"jsonrpc":"2.0","method":"Test.ping"})",
           R"({"jsonrpc":"2.0","method":"Nope.nothing"})",
           R"({"jsonrpc":"2.0","method":"Test.echo","params":{"text":5}})",
           R"({"jsonrpc":"2.0","method":"Test.echo","params":["x"]})",
           R"({"jsonrpc":"2.0","method":"Test.throw"})",
           R"({"jsonrpc":"2.0","method":"Test.fail","params":{"code":3}})",
           R"({"jsonrpc":"1.0","method":"Test.ping"})",
           R"({"jsonrpc":"2.0","method":"Test.work","params":{"value":1}})",
       }) {
    INFO(body);
    CHECK(rig.Call(body).empty());
  }
}

TEST_CASE("Oversized bodies are rejected before parsing") {
  DispatcherRig rig({.name = "rpc-test", .threads = 1, .max_queued = 4},
                    {.max_request_bytes = 64, .max_batch = 100});
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"Test.echo","params":{"text":")" +
      std::string(100, 'x') + R"("}})";
  const std::string r = rig.Call(body);
  CHECK(ErrorCode(r) == kInvalidRequest);
  CHECK(ErrorMessage(r).starts_with("request too large: "));
  CHECK(IdOf(r).is_null());
}

TEST_CASE("Batches mix results, errors and notifications in order") {
  DispatcherRig rig;
  const std::string r = rig.Call(R"([
      {"jsonrpc":"2.0","id":1,"method":"Test.ping"},
      {"jsonrpc":"2.0","method":"Test.ping"},
      {"jsonrpc":"2.0","id":2,"method":"Nope.nothing"},
      5,
      {"jsonrpc":"2.0","id":3,"method":"Test.work","params":{"value":"w"}},
      {"jsonrpc":"2.0","method":"Nope.nothing"},
      {"jsonrpc":"2.0","id":4,"method":"Test.echo","params":{"text":1}}
  ])");
  json::value v = ParseJson(r);
  REQUIRE(v.is_array());
  const json::array& a = v.as_array();
  REQUIRE(a.size() == 5);
  for (const json::value& e : a) CHECK(IsResponseObject(e));
  CHECK(a[0].at("id") == 1);
  CHECK(a[0].at("result") == true);
  CHECK(a[1].at("id") == 2);
  CHECK(a[1].at("error").at("code") == kMethodNotFound);
  CHECK(a[2].at("id").is_null());
  CHECK(a[2].at("error").at("code") == kInvalidRequest);
  CHECK(a[3].at("id") == 3);
  CHECK(a[3].at("result").at("value") == "w");
  CHECK(a[4].at("id") == 4);
  CHECK(a[4].at("error").at("code") == kInvalidParams);
}

TEST_CASE("A batch of notifications only gets no response") {
  DispatcherRig rig;
  CHECK(rig.Call(R"([{"jsonrpc":"2.0","method":"Test.ping"},
                     {"jsonrpc":"2.0","method":"Test.work"},
                     {"jsonrpc":"2.0","method":"Nope.x"}])")
            .empty());
}

TEST_CASE("Empty and oversized batches are one invalid-request error") {
  DispatcherRig rig({.name = "rpc-test", .threads = 1, .max_queued = 4},
                    {.max_request_bytes = 1 << 20, .max_batch = 2});
  const std::string empty = rig.Call("[]");
  CHECK(ErrorCode(empty) == kInvalidRequest);
  CHECK(ErrorMessage(empty) == "empty batch");
  const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"Test.ping"})";
  const std::string big = rig.Call("[" + ping + "," + ping + "," + ping + "]");
  CHECK(ErrorCode(big) == kInvalidRequest);
  CHECK(ErrorMessage(big) == "batch of 3 requests exceeds the limit of 2");
  CHECK(ParseJson(rig.Call("[" + ping + "," + ping + "]")).as_array().size() == 2);
}

TEST_CASE("A worker method completes asynchronously, done called exactly once") {
  DispatcherRig rig;
  auto record = rig.Start(R"({"jsonrpc":"2.0","id":9,"method":"Test.block"})");
  CHECK(record->calls() == 0);  // the worker is blocked on the latch
  rig.latch.Open();
  const std::string r = record->Wait();
  CHECK(ResultOf(r) == "unblocked");
  CHECK(IdOf(r) == 9);
  rig.pool->Shutdown();
  CHECK(record->calls() == 1);
  CHECK(rig.metrics->InFlight() == 0);
}

TEST_CASE("A worker method sees the call context") {
  DispatcherRig rig;
  const std::string r = rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.work"})");
  CHECK(ResultOf(r).at("transport") == "http");
}

TEST_CASE("A batch with worker calls completes once, after the last worker") {
  DispatcherRig rig;
  auto record = rig.Start(R"([{"jsonrpc":"2.0","id":1,"method":"Test.block"},
                              {"jsonrpc":"2.0","id":2,"method":"Test.ping"},
                              {"jsonrpc":"2.0","id":3,"method":"Test.work"}])");
  CHECK(record->calls() == 0);
  rig.latch.Open();
  json::value v = ParseJson(record->Wait());
  REQUIRE(v.as_array().size() == 3);
  CHECK(v.as_array()[0].at("result") == "unblocked");
  CHECK(v.as_array()[1].at("result") == true);
  CHECK(v.as_array()[2].at("id") == 3);
  rig.pool->Shutdown();
  CHECK(record->calls() == 1);
}

TEST_CASE("A full worker pool answers server busy") {
  DispatcherRig rig({.name = "rpc-test", .threads = 1, .max_queued = 0});
  auto blocked = rig.Start(R"({"jsonrpc":"2.0","id":1,"method":"Test.block"})");
  auto refused = rig.Start(R"({"jsonrpc":"2.0","id":2,"method":"Test.work"})");
  REQUIRE(refused->calls() == 1);  // answered inline
  const std::string r = refused->Wait();
  CHECK(ErrorCode(r) == kServerBusy);
  CHECK(ErrorMessage(r) == "server busy: worker pool queue is full; retry later");
  CHECK(ErrorOf(r).at("data").at("status") == "RESOURCE_EXHAUSTED");
  CHECK(IdOf(r) == 2);
  rig.latch.Open();
  CHECK(ResultOf(blocked->Wait()) == "unblocked");
}

TEST_CASE("A shut-down worker pool answers unavailable") {
  DispatcherRig rig;
  rig.pool->Shutdown();
  const std::string r = rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.work"})");
  CHECK(ErrorCode(r) == -32014);
  CHECK(ErrorOf(r).at("data").at("status") == "UNAVAILABLE");
}

TEST_CASE("Requests are recorded in metrics, in flight returns to zero") {
  DispatcherRig rig;
  (void)rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.ping"})");
  (void)rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.ping"})");
  (void)rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.echo","params":{}})");
  (void)rig.Call("{");
  (void)rig.Call(R"({"jsonrpc":"2.0","id":1,"method":"Test.work"})");
  rig.pool->Shutdown();
  CHECK(rig.metrics->RequestCount("Test.ping", 0) == 2);
  CHECK(rig.metrics->RequestCount("Test.echo", kInvalidParams) == 1);
  CHECK(rig.metrics->RequestCount("unknown", kParseError) == 1);
  CHECK(rig.metrics->RequestCount("Test.work", 0) == 1);
  CHECK(rig.metrics->TotalRequests() == 5);
  CHECK(rig.metrics->InFlight() == 0);
}

}  // namespace
}  // namespace sanpool::agent
