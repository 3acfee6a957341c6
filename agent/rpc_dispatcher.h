// RpcDispatcher: turns one JSON-RPC 2.0 message body (a request or a batch)
// into its serialized response, running methods from a MethodRegistry.
//
//   MethodRegistry registry;            // Register(...) everything first
//   Metrics metrics(registry.MethodNames());
//   WorkerPool pool({.name = "rpc", .threads = 4, .max_queued = 256});
//   RpcDispatcher dispatcher(registry, metrics, pool, {});
//   dispatcher.Handle(body, {.peer = "...", .transport = "http"},
//                     [](std::string response) { /* send, or 204 if "" */ });
//
// Protocol (what the wire sees):
//   - Body larger than limits.max_request_bytes -> -32600, id null.
//   - Not JSON (or invalid UTF-8, or nested deeper than 64) -> -32700, id null.
//   - Top level neither object nor array -> -32600, id null.
//   - Batch: [] -> one -32600 error object (not an array); more than
//     limits.max_batch elements -> one -32600 error object; otherwise an array
//     with one response per non-notification element, in element order, or
//     nothing at all when every element is a notification.
//   - Element that is not an object -> -32600, id null.
//   - An object without an "id" member is a notification: it never gets a
//     response, whatever is wrong with it (a deliberate choice over the spec's
//     "invalid request gets an error"); it is still counted in Metrics.
//   - "id" must be a string, a number or null, else -32600 with id null; the
//     response carries the same id value (numbers are re-serialized: integers
//     come back byte for byte, a fractional id such as 1.50 may come back as
//     1.5E0).
//   - "jsonrpc" must be "2.0" and "method" a string, else -32600. Other
//     members of the request object are ignored.
//   - "params" absent -> {}; an array (positional) -> -32602
//     "params: positional params are not supported; pass an object of named
//     params"; any other non-object -> -32600.
//   - Unknown method -> -32601. Params failing the method's ParamSpecs ->
//     -32602 with the validation message ("params.size: expected integer, got
//     string"). Handler errors map through rpc_errors.h. A handler that throws
//     -> -32603 "internal error", logged with the exception text.
//   - Execution::kWorker methods are submitted to the worker pool; when its
//     queue is full -> -32008 (RESOURCE_EXHAUSTED, "server busy: ..."), when it
//     is shutting down -> -32014 (UNAVAILABLE).
//
// Inline handlers get params that live in a per-call parse buffer: they must
// not keep references past their return (copy what they keep). Worker
// handlers get their own copy.
//
// Nothing throws out of Handle(). `done` is called exactly once per Handle()
// call: before Handle returns when every request in the body ran inline, else
// later, on a worker thread, after the last worker call of the body finished.
//
// Thread-safety: Handle() may be called concurrently from any number of
// threads. The registry, metrics and pool must outlive every call in flight
// (drain the pool before destroying them).
#ifndef SANPOOL_AGENT_RPC_DISPATCHER_H_
#define SANPOOL_AGENT_RPC_DISPATCHER_H_

#include <boost/json/array.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "agent/method_registry.h"
#include "agent/metrics.h"
#include "base/worker_pool.h"

namespace sanpool::agent {

struct Limits {
  size_t max_request_bytes = 1 << 20;  // [rpc] max_request_bytes
  size_t max_batch = 100;              // [rpc] max_batch
};

class RpcDispatcher {
 public:
  // Receives the serialized response; "" when there is nothing to send.
  using DoneCallback = std::function<void(std::string response)>;

  RpcDispatcher(const MethodRegistry& registry, Metrics& metrics, WorkerPool& pool,
                Limits limits);
  RpcDispatcher(const RpcDispatcher&) = delete;
  RpcDispatcher& operator=(const RpcDispatcher&) = delete;

  // Handles one message body (rules above). Never blocks on a worker method;
  // inline methods run on the calling thread. `ctx` is copied when needed.
  void Handle(std::string_view body, const CallContext& ctx, DoneCallback done);

  const Limits& limits() const { return limits_; }

 private:
  struct BatchState;
  struct Sink;
  struct AsyncTarget;
  enum class Outcome { kNoResponse, kResponded, kAsync };

  void HandleBody(std::string_view body, const CallContext& ctx, DoneCallback& done);
  void HandleBatch(const boost::json::array& batch, const CallContext& ctx,
                   DoneCallback& done);
  // Handles one request object: appends its response to `out` (kResponded),
  // appends nothing (kNoResponse), or hands a Sink taken from `target` to a
  // worker that completes it later (kAsync).
  Outcome HandleElement(const boost::json::value& element, const CallContext& ctx,
                        std::string& out, AsyncTarget& target);
  Outcome Submit(const MethodSpec& spec, const boost::json::object& params,
                 const boost::json::value* id, const CallContext& ctx,
                 AsyncTarget& target);

  const MethodRegistry& registry_;
  Metrics& metrics_;
  WorkerPool& pool_;
  const Limits limits_;
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_RPC_DISPATCHER_H_
