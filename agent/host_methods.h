// The Host.* JSON-RPC methods: liveness, capabilities and process stats.
//
//   Host.ping             -> true                                  (inline)
//   Host.getCapabilities  -> {"version", "build": {compiler, boost, openssl},
//                             "storage_domain_types": [...],
//                             "storage_domain_versions": [5],
//                             "block_domain_versions": [5],
//                             "file_domain_versions": [5],
//                             "dm_backends": ["user", "kernel"]}      (inline)
//   Host.getStats         -> {"uptime_s", "rss_bytes", "requests_total",
//                             "in_flight", "connections"}            (inline)
//
// Thread-safety: the registered handlers may run concurrently on any thread;
// they only read atomics and /proc/self/statm.
#ifndef SANPOOL_AGENT_HOST_METHODS_H_
#define SANPOOL_AGENT_HOST_METHODS_H_

#include <chrono>
#include <functional>

#include "agent/method_registry.h"
#include "agent/server.h"
#include "base/status.h"

namespace sanpool::agent {

// Where the stats come from. Functions (not objects) because Metrics is built
// from the registry after the methods are registered, and the Server after
// that. Empty functions report 0.
struct HostMethodsDeps {
  std::function<uint64_t()> requests_total;  // Metrics::TotalRequests
  std::function<int64_t()> in_flight;        // Metrics::InFlight
  std::function<ServerStats()> server_stats;
  // When the agent started (for uptime).
  std::chrono::steady_clock::time_point start_time =
      std::chrono::steady_clock::now();
};

// Registers the three methods. Errors: whatever MethodRegistry::Register
// returns (kAlreadyExists when registered twice).
Status RegisterHostMethods(MethodRegistry& registry, HostMethodsDeps deps);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_HOST_METHODS_H_
