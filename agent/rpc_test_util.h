// Test helpers shared by the agent's RPC unit tests: a dispatcher wired to a
// small registry of test methods, and synchronous call helpers.
#ifndef SANPOOL_AGENT_RPC_TEST_UTIL_H_
#define SANPOOL_AGENT_RPC_TEST_UTIL_H_

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/method_registry.h"
#include "agent/metrics.h"
#include "agent/rpc_dispatcher.h"
#include "base/latch_test_util.h"
#include "base/worker_pool.h"

namespace sanpool::agent::testing {

// A one-shot gate a worker method can block on until the test opens it.
using ::sanpool::testing::Latch;

// The result of one Handle() call: every response `done` delivered.
class CallRecord {
 public:
  void Deliver(std::string response) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    response_ = std::move(response);
    cv_.notify_all();
  }
  // Blocks until `done` ran at least once; returns the response.
  std::string Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return calls_ > 0; });
    return response_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  std::string response_;
};

// Registers the test methods:
//   Test.echo   inline; params text (string, required, max 16), n (int,
//               optional, 1..100), format (string, optional, COW|RAW),
//               volume (uuid, optional); returns the params object.
//   Test.ping   inline, no params; returns true.
//   Test.fail   inline; code (int), storage_code (int, optional); returns that
//               Status with detail path=/x.
//   Test.throw  inline; throws std::runtime_error.
//   Test.work   worker; params value (any); returns {"value": value}.
//   Test.block  worker; waits on `latch`, returns "unblocked".
//   Test.extra  inline, ExtraParams::kAllow; returns the params object.
void RegisterTestMethods(MethodRegistry& registry, Latch* latch);

// A registry with the test methods, metrics, a worker pool and a dispatcher.
struct DispatcherRig {
  explicit DispatcherRig(WorkerPoolOptions pool_options = {.name = "rpc-test",
                                                           .threads = 2,
                                                           .max_queued = 16},
                         Limits limits = {});
  ~DispatcherRig();

  // Handle() and wait for `done`; CHECKs it ran exactly once after the pool
  // drained nothing more for this call.
  std::string Call(std::string_view body);
  // Handle() without waiting.
  std::shared_ptr<CallRecord> Start(std::string_view body);

  Latch latch;
  MethodRegistry registry;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<RpcDispatcher> dispatcher;
};

// Parses `text`; fails the test when it is not JSON.
boost::json::value ParseJson(std::string_view text);

// True when `v` is a JSON-RPC 2.0 response object: jsonrpc "2.0", an id
// member (string/number/null), and exactly one of result / error where error
// has an integer code and a string message.
bool IsResponseObject(const boost::json::value& v);

}  // namespace sanpool::agent::testing

#endif  // SANPOOL_AGENT_RPC_TEST_UTIL_H_
