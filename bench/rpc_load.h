// RunLoad: the RPC benchmark's load generator.
//
// N keep-alive clients on ONE thread (one io_context, C++20 coroutines, no
// thread per client) each send the same JSON-RPC request back to back, over
// HTTP (`POST /rpc`) or a WebSocket on `/rpc`, with TLS. All clients connect
// and handshake first; the measured window starts when the last one is ready
// and lasts `duration`; only requests sent inside it count. Buffers are
// reused per client; the request bytes are serialised once.
//
// While the load runs, `on_tick` is invoked every `tick` (e.g. to sample the
// agent's RSS) on the same thread.
#ifndef SANPOOL_BENCH_RPC_LOAD_H_
#define SANPOOL_BENCH_RPC_LOAD_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/rpc_client.h"
#include "base/status.h"

namespace sanpool::bench {

enum class LoadProtocol { kHttp, kWebSocket };

struct LoadSpec {
  agent::Endpoint endpoint;  // kTls or kTcp
  agent::TlsFiles tls;
  LoadProtocol protocol = LoadProtocol::kHttp;
  int clients = 1;
  std::chrono::milliseconds duration{5000};
  std::string method = "Host.ping";
  std::string params_json = "{}";
  std::chrono::milliseconds tick{100};
  std::function<void()> on_tick;
};

struct LoadResult {
  uint64_t requests = 0;  // answered with a JSON-RPC result inside the window
  uint64_t errors = 0;    // error answers, bad HTTP statuses, dropped clients
  double seconds = 0;     // the measured window's actual length
  double requests_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// kInvalidArgument for unusable TLS files; kUnavailable when no client could
// connect. Per-request failures are counted, not returned.
Result<LoadResult> RunLoad(const LoadSpec& spec);

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_RPC_LOAD_H_
