#include "agent/host_methods.h"

#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

namespace json = boost::json;

json::value Call(const MethodRegistry& registry, std::string_view name) {
  const MethodSpec* spec = registry.Find(name);
  REQUIRE(spec != nullptr);
  auto result = spec->handler({}, CallContext{"test", "http"});
  REQUIRE(result.ok());
  return *result;
}

TEST_CASE("Host.ping returns true", "[host_methods]") {
  MethodRegistry registry;
  REQUIRE(RegisterHostMethods(registry, {}).ok());
  CHECK(Call(registry, "Host.ping") == json::value(true));
  CHECK(registry.Find("Host.ping")->execution == Execution::kInline);
}

TEST_CASE("Host.getCapabilities lists domain types, versions, backends",
          "[host_methods]") {
  MethodRegistry registry;
  REQUIRE(RegisterHostMethods(registry, {}).ok());
  json::value caps = Call(registry, "Host.getCapabilities");
  CHECK(caps.at("storage_domain_types") ==
        json::array{"LOCALFS", "POSIXFS", "NFS", "FCP", "ISCSI"});
  CHECK(caps.at("storage_domain_versions") == json::array{5});
  CHECK(caps.at("dm_backends") == json::array{"user", "kernel"});
  CHECK(caps.at("build").at("boost").as_string().starts_with("1."));
  CHECK(caps.at("build").as_object().contains("openssl"));
}

TEST_CASE("Host.getStats reports the given sources", "[host_methods]") {
  MethodRegistry registry;
  HostMethodsDeps deps;
  deps.requests_total = [] { return uint64_t{42}; };
  deps.in_flight = [] { return int64_t{3}; };
  deps.server_stats = [] {
    ServerStats s;
    s.connections = 7;
    return s;
  };
  deps.start_time = std::chrono::steady_clock::now() - std::chrono::seconds(90);
  REQUIRE(RegisterHostMethods(registry, std::move(deps)).ok());
  json::value stats = Call(registry, "Host.getStats");
  CHECK(stats.at("requests_total").to_number<int64_t>() == 42);
  CHECK(stats.at("in_flight").to_number<int64_t>() == 3);
  CHECK(stats.at("connections").to_number<int64_t>() == 7);
  CHECK(stats.at("uptime_s").to_number<int64_t>() >= 90);
  CHECK(stats.at("rss_bytes").to_number<int64_t>() > 0);
}

TEST_CASE("Host methods cannot be registered twice", "[host_methods]") {
  MethodRegistry registry;
  REQUIRE(RegisterHostMethods(registry, {}).ok());
  CHECK(RegisterHostMethods(registry, {}).code() == Code::kAlreadyExists);
}

}  // namespace
}  // namespace sanpool::agent
