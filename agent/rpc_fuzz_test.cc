// Fuzz-style robustness test: thousands of random, truncated, mutated and
// oversized bodies. Every call must complete exactly once with "" or a
// syntactically valid JSON-RPC response object/array. Seeded for
// reproducibility; the CI runs it under ASan+UBSan.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "agent/rpc_dispatcher.h"
#include "agent/rpc_test_util.h"
#include "base/log.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using testing::CallRecord;
using testing::DispatcherRig;
using testing::IsResponseObject;

const std::vector<std::string>& Seeds() {
  static const std::vector<std::string> seeds = {
      R"({"jsonrpc":"2.0","id":1,"method":"Test.ping"})",
      R"({"jsonrpc":"2.0","id":"x","method":"Test.echo","params":{"text":"hi","n":5,"format":"RAW","volume":"5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a"}})",
      R"({"jsonrpc":"2.0","id":null,"method":"Test.work","params":{"value":[1,2.5,{"a":null}]}})",
      R"({"jsonrpc":"2.0","method":"Test.work","params":{"value":"n"}})",
      R"({"jsonrpc":"2.0","id":3,"method":"Test.fail","params":{"code":9,"storage_code":654}})",
      R"({"jsonrpc":"2.0","id":4,"method":"Test.throw"})",
      R"({"jsonrpc":"2.0","id":5,"method":"Test.extra","params":{"a":1,"zz":"\u00e9"}})",
      R"([{"jsonrpc":"2.0","id":1,"method":"Test.ping"},{"jsonrpc":"2.0","method":"Test.ping"},)"
      R"({"jsonrpc":"2.0","id":2,"method":"Test.work"},3,[]])",
      R"([])",
      R"({"jsonrpc":"2.0","id":[1],"method":"Test.ping","params":["a"]})",
  };
  return seeds;
}

// Bytes that are interesting to JSON parsers.
constexpr char kAlphabet[] = "{}[]\":,\\0123456789-+.eEtrufalsn \t\nabcxyz\x00\x7f\xc3\xa9\xff";

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> pick(0, sizeof(kAlphabet) - 2);
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out += kAlphabet[pick(rng)];
  return out;
}

std::string Mutate(std::mt19937& rng, std::string s) {
  std::uniform_int_distribution<int> op(0, 5);
  const int mutations = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int m = 0; m < mutations && !s.empty(); ++m) {
    std::uniform_int_distribution<size_t> pos(0, s.size() - 1);
    switch (op(rng)) {
      case 0: s.erase(pos(rng), 1); break;                            // delete a byte
      case 1: s.insert(pos(rng), RandomBytes(rng, 1 + rng() % 4)); break;
      case 2: s[pos(rng)] = static_cast<char>(rng() & 0xff); break;  // flip a byte
      case 3: s.resize(pos(rng)); break;                              // truncate
      case 4: {                                                       // duplicate a slice
        const size_t at = pos(rng);
        s.insert(at, s.substr(at, rng() % 32));
        break;
      }
      default: {  // swap two bytes
        std::swap(s[pos(rng)], s[pos(rng)]);
        break;
      }
    }
  }
  return s;
}

std::string MakeBody(std::mt19937& rng, int i) {
  const auto& seeds = Seeds();
  switch (i % 6) {
    case 0: return RandomBytes(rng, rng() % 200);
    case 1: return seeds[rng() % seeds.size()];
    case 2: {  // a batch of seeds, sometimes over the limit
      std::string body = "[";
      const size_t n = 1 + rng() % 12;
      for (size_t k = 0; k < n; ++k) {
        if (k) body += ',';
        body += seeds[rng() % seeds.size()];
      }
      return body + "]";
    }
    case 3: {  // oversized
      std::string body = seeds[1];
      body.insert(body.size() / 2, std::string(5000 + rng() % 3000, ' '));
      return body;
    }
    default: return Mutate(rng, seeds[rng() % seeds.size()]);
  }
}

bool IsValidResponseText(const std::string& text) {
  if (text.empty()) return true;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return false;
  if (v.is_object()) return IsResponseObject(v);
  if (!v.is_array() || v.as_array().empty()) return false;
  for (const json::value& e : v.as_array()) {
    if (!IsResponseObject(e)) return false;
  }
  return true;
}

TEST_CASE("Random, truncated, mutated and oversized bodies never break Handle") {
  constexpr int kBodies = 6000;
  std::mt19937 rng(20261121);
  std::vector<std::shared_ptr<CallRecord>> records;
  std::vector<std::string> bodies;
  records.reserve(kBodies);
  bodies.reserve(kBodies);
  log::SetSink([](log::Level, std::string_view) {});  // Test.throw logs each call
  {
    DispatcherRig rig({.name = "fuzz", .threads = 2, .max_queued = 4096},
                      {.max_request_bytes = 4096, .max_batch = 8});
    rig.latch.Open();  // Test.block must not block here
    for (int i = 0; i < kBodies; ++i) {
      bodies.push_back(MakeBody(rng, i));
      records.push_back(rig.Start(bodies.back()));
    }
    rig.pool->Shutdown();  // every worker call has finished
    CHECK(rig.metrics->InFlight() == 0);
  }
  log::SetSink(nullptr);
  int responses = 0;
  for (int i = 0; i < kBodies; ++i) {
    INFO("body #" << i << ": " << bodies[i]);
    REQUIRE(records[i]->calls() == 1);
    const std::string response = records[i]->Wait();
    INFO("response: " << response);
    REQUIRE(IsValidResponseText(response));
    if (!response.empty()) ++responses;
  }
  CHECK(responses > kBodies / 2);
}

}  // namespace
}  // namespace sanpool::agent
