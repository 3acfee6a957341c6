#include "agent/metrics.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace sanpool::agent {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

Metrics MakeMetrics() {
  return Metrics({"Host.ping", "Volume.create"}, [] { return uint64_t{4096}; });
}

// Checks the Prometheus text format line by line: HELP/TYPE comments, samples
// `name{labels} value`, and every sample's family declared by a TYPE line
// before it. Returns the samples as "name{labels}" -> value.
std::map<std::string, std::string> ParsePrometheus(const std::string& text) {
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
  static const std::regex kType(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? ([-+]?[0-9.eE+-]+|\+Inf|NaN))");
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    INFO(line);
    std::smatch m;
    if (std::regex_match(line, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      CHECK(types.emplace(m[1], m[2]).second);  // one TYPE per family
      continue;
    }
    REQUIRE(std::regex_match(line, m, kSample));
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = family.substr(0, family.size() - std::strlen(suffix));
      if (family.ends_with(suffix) && types.count(base) && types[base] == "histogram") {
        family = base;
      }
    }
    CHECK(types.count(family) == 1);
    CHECK(samples.emplace(std::string(m[1]) + std::string(m[2]), m[3]).second);
  }
  return samples;
}

TEST_CASE("Requests are counted per method and code") {
  Metrics metrics = MakeMetrics();
  metrics.RecordRequest("Host.ping", 0, microseconds(30));
  metrics.RecordRequest("Host.ping", 0, microseconds(30));
  metrics.RecordRequest("Host.ping", -32602, microseconds(30));
  metrics.RecordRequest("Volume.create", 654, milliseconds(20));
  CHECK(metrics.RequestCount("Host.ping", 0) == 2);
  CHECK(metrics.RequestCount("Host.ping", -32602) == 1);
  CHECK(metrics.RequestCount("Volume.create", 654) == 1);
  CHECK(metrics.RequestCount("Volume.create", 0) == 0);
  CHECK(metrics.TotalRequests() == 4);
}

TEST_CASE("Unregistered method names share the unknown label") {
  Metrics metrics = MakeMetrics();
  metrics.RecordRequest("Nope.a", -32601, microseconds(1));
  metrics.RecordRequest("Nope.b", -32601, microseconds(1));
  metrics.RecordRequest("", -32700, microseconds(1));
  CHECK(metrics.RequestCount("unknown", -32601) == 2);
  CHECK(metrics.RequestCount("Nope.zzz", -32601) == 2);
  const std::string text = metrics.RenderPrometheus();
  CHECK(text.find("Nope") == std::string::npos);
  CHECK(text.find(R"(sanpool_rpc_requests_total{method="unknown",code="-32601"} 2)") !=
        std::string::npos);
}

TEST_CASE("Codes beyond the per-method table count as other") {
  Metrics metrics = MakeMetrics();
  for (int code = 1; code <= static_cast<int>(Metrics::kCodeSlots) + 3; ++code) {
    metrics.RecordRequest("Host.ping", code, microseconds(1));
  }
  const std::string text = metrics.RenderPrometheus();
  CHECK(text.find(R"(sanpool_rpc_requests_total{method="Host.ping",code="other"} 3)") !=
        std::string::npos);
  CHECK(text.find(R"(sanpool_rpc_errors_total{code="other"} 3)") != std::string::npos);
}

TEST_CASE("RenderPrometheus is valid exposition text with every series") {
  Metrics metrics = MakeMetrics();
  metrics.RecordRequest("Host.ping", 0, microseconds(40));    // <= 50us
  metrics.RecordRequest("Host.ping", 0, microseconds(700));   // <= 1ms
  metrics.RecordRequest("Host.ping", -32603, std::chrono::seconds(30));  // +Inf
  metrics.AddInFlight(3);
  metrics.AddInFlight(-1);
  metrics.ConnectionOpened("ws");
  metrics.ConnectionOpened("ws");
  metrics.ConnectionClosed("ws");
  metrics.ConnectionOpened("carrier-pigeon");

  const auto samples = ParsePrometheus(metrics.RenderPrometheus());
  auto at = [&](const std::string& key) {
    INFO(key);
    REQUIRE(samples.count(key) == 1);
    return samples.at(key);
  };
  CHECK(at(R"(sanpool_rpc_requests_total{method="Host.ping",code="0"})") == "2");
  CHECK(at(R"(sanpool_rpc_errors_total{code="-32603"})") == "1");
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_bucket{method="Host.ping",le="5e-05"})") == "1");
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_bucket{method="Host.ping",le="0.001"})") == "2");
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_bucket{method="Host.ping",le="10"})") == "2");
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_bucket{method="Host.ping",le="+Inf"})") == "3");
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_count{method="Host.ping"})") == "3");
  CHECK(std::stod(at(R"(sanpool_rpc_request_duration_seconds_sum{method="Host.ping"})")) ==
        Approx(30.00074));
  CHECK(at("sanpool_rpc_in_flight") == "2");
  CHECK(at(R"(sanpool_connections_open{transport="ws"})") == "1");
  CHECK(at(R"(sanpool_connections_total{transport="ws"})") == "2");
  CHECK(at(R"(sanpool_connections_total{transport="other"})") == "1");
  CHECK(at("process_resident_memory_bytes") == "4096");
  // Registered methods appear even before their first request.
  CHECK(at(R"(sanpool_rpc_request_duration_seconds_count{method="Volume.create"})") == "0");
}

TEST_CASE("The real RSS reader reports something plausible") {
  CHECK(Metrics::ReadProcessRss() > 1024 * 1024);
}

TEST_CASE("Concurrent recording loses nothing") {
  Metrics metrics = MakeMetrics();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RecordRequest(t % 2 ? "Host.ping" : "Nope.x", i % 5, microseconds(i % 900));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(metrics.TotalRequests() == kThreads * kPerThread);
  uint64_t sum = 0;
  for (int code = 0; code < 5; ++code) {
    sum += metrics.RequestCount("Host.ping", code) + metrics.RequestCount("unknown", code);
  }
  CHECK(sum == kThreads * kPerThread);
  ParsePrometheus(metrics.RenderPrometheus());
}

}  // namespace
}  // namespace sanpool::agent
