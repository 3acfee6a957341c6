#include "agent/method_registry.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace sanpool::agent {
namespace {

namespace json = boost::json;

MethodHandler Ok() {
  return [](const json::object&, const CallContext&) -> Result<json::value> {
    return json::value(nullptr);
  };
}

MethodSpec Spec(std::string name) {
  return MethodSpec{.name = std::move(name), .description = "d", .handler = Ok()};
}

TEST_CASE("Register validates names, handlers and params") {
  MethodRegistry registry;
  CHECK(registry.Register(Spec("Host.ping")).ok());
  CHECK(registry.Register(Spec("Host.ping")).code() == Code::kAlreadyExists);
  for (const char* bad : {"ping", "Host.", ".ping", "Host.ping.x", "Host ping", "Ho-st.ping", ""}) {
    INFO(bad);
    CHECK(registry.Register(Spec(bad)).code() == Code::kInvalidArgument);
  }
  MethodSpec no_handler = Spec("Host.x");
  no_handler.handler = nullptr;
  CHECK(registry.Register(no_handler).code() == Code::kInvalidArgument);
  MethodSpec dup = Spec("Host.y");
  dup.params = {{.name = "a"}, {.name = "a"}};
  CHECK(registry.Register(dup).code() == Code::kInvalidArgument);
  MethodSpec bad_limits = Spec("Host.z");
  bad_limits.params = {{.name = "a", .type = ParamType::kBool, .min = 1}};
  CHECK(registry.Register(bad_limits).code() == Code::kInvalidArgument);
  CHECK(registry.size() == 1);
}

TEST_CASE("Find and MethodNames") {
  MethodRegistry registry;
  REQUIRE(registry.Register(Spec("Volume.create")).ok());
  REQUIRE(registry.Register(Spec("Host.ping")).ok());
  REQUIRE(registry.Find("Host.ping") != nullptr);
  CHECK(registry.Find("Host.ping")->name == "Host.ping");
  CHECK(registry.Find("Host.pong") == nullptr);
  CHECK(registry.MethodNames() == std::vector<std::string>{"Host.ping", "Volume.create"});
}

void RegisterDocMethods(MethodRegistry& registry, bool reversed) {
  MethodSpec create{
      .name = "Volume.create",
      .description = "Creates a volume.",
      .params = {{.name = "sdUUID", .type = ParamType::kUuid,
                  .description = "Storage domain"},
                 {.name = "size", .type = ParamType::kInt, .presence = Presence::kRequired,
                  .description = "Bytes | rounded", .min = 1, .max = 1000},
                 {.name = "format", .type = ParamType::kString,
                  .presence = Presence::kOptional, .description = "Format",
                  .allowed = {"COW", "RAW"}}},
      .result_description = "A task id.",
      .execution = Execution::kWorker,
      .handler = Ok()};
  MethodSpec ping{.name = "Host.ping", .description = "Liveness.",
                  .result_description = "`true`", .handler = Ok()};
  if (reversed) {
    REQUIRE(registry.Register(ping).ok());
    REQUIRE(registry.Register(create).ok());
  } else {
    REQUIRE(registry.Register(create).ok());
    REQUIRE(registry.Register(ping).ok());
  }
}

TEST_CASE("RenderMarkdown is deterministic and documents every param") {
  MethodRegistry a;
  MethodRegistry b;
  RegisterDocMethods(a, false);
  RegisterDocMethods(b, true);
  const std::string md = a.RenderMarkdown();
  CHECK(md == b.RenderMarkdown());
  CHECK(md == a.RenderMarkdown());

  const size_t ping = md.find("### Host.ping");
  const size_t create = md.find("### Volume.create");
  REQUIRE(ping != std::string::npos);
  REQUIRE(create != std::string::npos);
  CHECK(ping < create);  // name order
  CHECK(md.find("| `sdUUID` | uuid | yes | canonical 8-4-4-4-12 hex | Storage domain |") !=
        std::string::npos);
  CHECK(md.find("| `size` | integer | yes | 1 .. 1000 | Bytes \\| rounded |") !=
        std::string::npos);
  CHECK(md.find("| `format` | string | no | one of: COW, RAW | Format |") != std::string::npos);
  CHECK(md.find("Execution: worker") != std::string::npos);
  CHECK(md.find("Execution: inline") != std::string::npos);
  CHECK(md.find("Result: A task id.") != std::string::npos);
  CHECK(md.find("Params: none.") != std::string::npos);
  CHECK(md.find("-32602") != std::string::npos);
}

}  // namespace
}  // namespace sanpool::agent
