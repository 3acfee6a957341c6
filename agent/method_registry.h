// The JSON-RPC method registry: one table drives dispatch, parameter
// validation and the generated API reference (doc/api.md).
//
//   MethodRegistry registry;
//   Status s = registry.Register({
//       .name = "Host.ping",
//       .description = "Returns immediately; for liveness checks.",
//       .params = {},
//       .result_description = "`true`",
//       .execution = Execution::kInline,
//       .handler = [](const boost::json::object&, const CallContext&)
//           -> Result<boost::json::value> { return boost::json::value(true); },
//   });
//
// Lifecycle: register every method at startup, then hand the registry (const)
// to an RpcDispatcher. Register() must not be called once requests are being
// dispatched; after that the registry is immutable and may be read from any
// number of threads.
#ifndef SANPOOL_AGENT_METHOD_REGISTRY_H_
#define SANPOOL_AGENT_METHOD_REGISTRY_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json_params.h"
#include "base/status.h"

namespace sanpool::agent {

// Who is calling; filled in by the transport.
struct CallContext {
  std::string peer;       // "127.0.0.1:40512", "unix", TLS subject...
  std::string transport;  // "http", "ws", "unix"
};

// Where a method runs.
//   kInline: cheap and non-blocking (no I/O, no locks held for long); runs on
//            the network thread inside RpcDispatcher::Handle.
//   kWorker: may block (storage I/O, sanlock, lvm); runs on the bounded worker
//            pool and completes asynchronously. When the pool is full the
//            call fails with kServerBusy instead of queueing without bound.
enum class Execution { kInline, kWorker };

std::string_view ExecutionName(Execution execution);  // "inline", "worker"

// A handler gets the validated params object (every declared param present
// where required and of its declared type) and returns the result value or a
// Status that rpc_errors.h maps to a JSON-RPC error. Handlers may throw only
// by accident: an exception becomes -32603 and is logged.
using MethodHandler = std::function<Result<boost::json::value>(
    const boost::json::object& params, const CallContext& ctx)>;

struct MethodSpec {
  std::string name;  // "Class.verb", e.g. "StoragePool.spmStart".
  std::string description;
  std::vector<ParamSpec> params;
  std::string result_description;
  Execution execution = Execution::kInline;
  MethodHandler handler;
  ExtraParams extra_params = ExtraParams::kReject;
};

class MethodRegistry {
 public:
  MethodRegistry() = default;
  MethodRegistry(const MethodRegistry&) = delete;
  MethodRegistry& operator=(const MethodRegistry&) = delete;

  // Adds a method. Fails with kInvalidArgument when the name is not
  // "Class.verb" (letters, digits, '_' on both sides of exactly one dot), the
  // handler is empty, a param spec is inconsistent (CheckParamSpec) or a param
  // name repeats; kAlreadyExists when the name is taken.
  Status Register(MethodSpec spec);

  // The method called `name`, or nullptr. The pointer stays valid for the
  // registry's lifetime.
  const MethodSpec* Find(std::string_view name) const;

  // Registered names in sorted order.
  std::vector<std::string> MethodNames() const;
  size_t size() const { return methods_.size(); }

  // The API reference in Markdown: conventions, error codes, then one section
  // per method in name order with description, execution kind, a params table
  // (name, type, required, limits, description) and the result. The output
  // depends only on the registered specs (deterministic).
  std::string RenderMarkdown() const;

 private:
  std::map<std::string, MethodSpec, std::less<>> methods_;
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_METHOD_REGISTRY_H_
