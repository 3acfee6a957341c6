#include "agent/rpc_test_util.h"

#include <catch2/catch.hpp>
#include <stdexcept>

namespace sanpool::agent::testing {

namespace json = boost::json;

void RegisterTestMethods(MethodRegistry& registry, Latch* latch) {
  auto echo = [](const json::object& params, const CallContext&) -> Result<json::value> {
    return json::value(params);
  };
  REQUIRE(registry
              .Register({
                  .name = "Test.echo",
                  .description = "Echoes its params.",
                  .params =
                      {
                          {.name = "text",
                           .type = ParamType::kString,
                           .presence = Presence::kRequired,
                           .description = "Any short text",
                           .max_length = 16},
                          {.name = "n",
                           .type = ParamType::kInt,
                           .presence = Presence::kOptional,
                           .description = "A count",
                           .min = 1,
                           .max = 100},
                          {.name = "format",
                           .type = ParamType::kString,
                           .presence = Presence::kOptional,
                           .description = "Volume format",
                           .allowed = {"COW", "RAW"}},
                          {.name = "volume",
                           .type = ParamType::kUuid,
                           .presence = Presence::kOptional,
                           .description = "A volume UUID"},
                      },
                  .result_description = "The params object.",
                  .execution = Execution::kInline,
                  .handler = echo,
              })
              .ok());
  REQUIRE(registry
              .Register({.name = "Test.ping",
                         .description = "Liveness.",
                         .result_description = "`true`",
                         .handler = [](const json::object&, const CallContext&)
                             -> Result<json::value> { return json::value(true); }})
              .ok());
  REQUIRE(registry
              .Register({
                  .name = "Test.fail",
                  .description = "Fails with the given status code.",
                  .params = {{.name = "code", .type = ParamType::kInt, .min = 1, .max = 15},
                             {.name = "storage_code",
                              .type = ParamType::kInt,
                              .presence = Presence::kOptional}},
                  .handler = [](const json::object& params,
                                const CallContext&) -> Result<json::value> {
                    const int storage_code =
                        params.contains("storage_code")
                            ? static_cast<int>(params.at("storage_code").as_int64())
                            : 0;
                    return Status(static_cast<Code>(params.at("code").as_int64()),
                                  "it failed", storage_code)
                        .WithDetail("path", "/x");
                  },
              })
              .ok());
  REQUIRE(registry
              .Register({.name = "Test.throw",
                         .description = "Throws.",
                         .handler = [](const json::object&,
                                       const CallContext&) -> Result<json::value> {
                           throw std::runtime_error("boom");
                         }})
              .ok());
  REQUIRE(registry
              .Register({.name = "Test.work",
                         .description = "Runs on the worker pool.",
                         .params = {{.name = "value",
                                     .type = ParamType::kAny,
                                     .presence = Presence::kOptional}},
                         .execution = Execution::kWorker,
                         .handler = [](const json::object& params,
                                       const CallContext& ctx) -> Result<json::value> {
                           json::object out;
                           if (const json::value* v = params.if_contains("value")) {
                             out["value"] = *v;
                           }
                           out["transport"] = ctx.transport;
                           return json::value(std::move(out));
                         }})
              .ok());
  REQUIRE(registry
              .Register({.name = "Test.block",
                         .description = "Blocks a worker until the test opens the latch.",
                         .execution = Execution::kWorker,
                         .handler = [latch](const json::object&,
                                            const CallContext&) -> Result<json::value> {
                           latch->Wait();
                           return json::value("unblocked");
                         }})
              .ok());
  REQUIRE(registry
              .Register({.name = "Test.extra",
                         .description = "Accepts undeclared params.",
                         .params = {{.name = "a", .type = ParamType::kInt}},
                         .handler = echo,
                         .extra_params = ExtraParams::kAllow})
              .ok());
}

DispatcherRig::DispatcherRig(WorkerPoolOptions pool_options, Limits limits) {
  RegisterTestMethods(registry, &latch);
  metrics = std::make_unique<Metrics>(registry.MethodNames(), [] { return uint64_t{1234}; });
  pool = std::make_unique<WorkerPool>(std::move(pool_options));
  dispatcher = std::make_unique<RpcDispatcher>(registry, *metrics, *pool, limits);
}

DispatcherRig::~DispatcherRig() {
  latch.Open();
  pool->Shutdown();
}

std::shared_ptr<CallRecord> DispatcherRig::Start(std::string_view body) {
  auto record = std::make_shared<CallRecord>();
  dispatcher->Handle(body, CallContext{.peer = "test", .transport = "http"},
                     [record](std::string response) { record->Deliver(std::move(response)); });
  return record;
}

std::string DispatcherRig::Call(std::string_view body) {
  std::shared_ptr<CallRecord> record = Start(body);
  std::string response = record->Wait();
  CHECK(record->calls() == 1);
  return response;
}

json::value ParseJson(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  INFO(text);
  REQUIRE_FALSE(ec);
  return v;
}

bool IsResponseObject(const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& o = v.get_object();
  const json::value* version = o.if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return false;
  }
  const json::value* id = o.if_contains("id");
  if (id == nullptr || !(id->is_string() || id->is_number() || id->is_null())) return false;
  const bool has_result = o.contains("result");
  const json::value* error = o.if_contains("error");
  if (has_result == (error != nullptr)) return false;
  if (error != nullptr) {
    if (!error->is_object()) return false;
    const json::value* code = error->get_object().if_contains("code");
    const json::value* message = error->get_object().if_contains("message");
    if (code == nullptr || !code->is_int64() || message == nullptr || !message->is_string()) {
      return false;
    }
  }
  return o.size() == 3;
}

}  // namespace sanpool::agent::testing
