// Metrics: the agent's RPC counters, rendered as Prometheus text for
// `GET /metrics`.
//
// Recording is lock-free: every per-method entry is created in the
// constructor from the registered method names, so RecordRequest() is a hash
// lookup in an immutable table plus relaxed atomic increments. Names that were
// not registered (typos, probes, parse errors) are all counted under the one
// method label "unknown", which bounds label cardinality whatever clients send.
// Error codes are kept per method in a small fixed table; codes beyond its
// capacity are counted under code="other".
//
// Exported series:
//   sanpool_rpc_requests_total{method,code}          counter (code 0 = success)
//   sanpool_rpc_errors_total{code}                   counter
//   sanpool_rpc_request_duration_seconds{method}     histogram, 50us .. 10s
//   sanpool_rpc_in_flight                            gauge
//   sanpool_connections_open{transport}              gauge
//   sanpool_connections_total{transport}             counter
//   process_resident_memory_bytes                    gauge (/proc/self/statm)
// followed by the text of every collector added with AddCollector (other
// components' series, e.g. sanpool_domain_* from agent/monitor_methods.h).
//
// Who records what: RpcDispatcher records every request and keeps
// AddInFlight() balanced per Handle() call; transports call
// ConnectionOpened/Closed. Transports are "http", "ws", "unix"; anything else
// is counted as "other".
//
// Thread-safety: every method may be called from any thread concurrently.
#ifndef SANPOOL_AGENT_METRICS_H_
#define SANPOOL_AGENT_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sanpool::agent {

class Metrics {
 public:
  // Upper bounds of the latency histogram buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 17> kBucketBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};
  // Distinct error codes tracked per method before falling back to "other".
  static constexpr size_t kCodeSlots = 16;
  // The label for unregistered method names.
  static constexpr std::string_view kUnknownMethod = "unknown";

  // Returns the process's resident set size in bytes, or 0 when unknown.
  using RssReader = std::function<uint64_t()>;

  // `method_names`: the registered methods (MethodRegistry::MethodNames()).
  // `rss_reader` defaults to reading /proc/self/statm.
  explicit Metrics(const std::vector<std::string>& method_names,
                   RssReader rss_reader = nullptr);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished request. `error_code` is the JSON-RPC error code, 0 on
  // success. Notifications are recorded too.
  void RecordRequest(std::string_view method, int error_code,
                     std::chrono::nanoseconds latency);
  void AddInFlight(int delta);
  void ConnectionOpened(std::string_view transport);
  void ConnectionClosed(std::string_view transport);

  uint64_t TotalRequests() const;
  int64_t InFlight() const;
  // Requests recorded for `method` (or "unknown") with `error_code`.
  uint64_t RequestCount(std::string_view method, int error_code) const;

  // Returns complete Prometheus text (HELP/TYPE and samples) for series
  // another component owns. Runs on the rendering (network) thread: it must
  // not block.
  using Collector = std::function<std::string()>;
  // Appends `collector`'s text to every rendering, in the order added.
  // REQUIRES: called at startup, before the Metrics is used from other
  // threads (collectors_ is not locked).
  void AddCollector(Collector collector);

  // Prometheus text exposition format (version 0.0.4), deterministic order.
  std::string RenderPrometheus() const;

  // RSS from /proc/self/statm, 0 when it cannot be read.
  static uint64_t ReadProcessRss();

 private:
  struct MethodEntry;
  static constexpr size_t kTransports = 4;  // http, ws, unix, other

  MethodEntry& EntryFor(std::string_view method) const;
  static size_t TransportIndex(std::string_view transport);

  // Immutable after construction; entries_ owns, index_ looks up.
  std::vector<std::unique_ptr<MethodEntry>> entries_;
  std::unordered_map<std::string_view, MethodEntry*> index_;
  MethodEntry* unknown_ = nullptr;
  RssReader rss_reader_;
  std::vector<Collector> collectors_;

  std::atomic<uint64_t> total_requests_{0};
  std::atomic<int64_t> in_flight_{0};
  std::array<std::atomic<int64_t>, kTransports> connections_open_{};
  std::array<std::atomic<uint64_t>, kTransports> connections_total_{};
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_METRICS_H_
