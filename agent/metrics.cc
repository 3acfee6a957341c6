#include "agent/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace sanpool::agent {

// One method's counters. Code slots are claimed with a CAS on `code`, so a
// slot's code never changes once set; kFree marks an unused slot (no JSON-RPC
// code is INT32_MIN).
struct Metrics::MethodEntry {
  static constexpr int kFree = INT32_MIN;

  std::string name;
  std::array<std::atomic<int>, kCodeSlots> codes;
  std::array<std::atomic<uint64_t>, kCodeSlots> counts{};
  std::atomic<uint64_t> other_codes{0};
  std::array<std::atomic<uint64_t>, kBucketBounds.size() + 1> buckets{};
  std::atomic<uint64_t> latency_sum_ns{0};

  explicit MethodEntry(std::string n) : name(std::move(n)) {
    for (auto& c : codes) c.store(kFree, std::memory_order_relaxed);
  }

  void Count(int code) {
    for (size_t i = 0; i < kCodeSlots; ++i) {
      int current = codes[i].load(std::memory_order_acquire);
      if (current == kFree) {
        int expected = kFree;
        if (codes[i].compare_exchange_strong(expected, code,
                                             std::memory_order_acq_rel)) {
          current = code;
        } else {
          current = expected;
        }
      }
      if (current == code) {
        counts[i].fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    other_codes.fetch_add(1, std::memory_order_relaxed);
  }
};

namespace {

constexpr std::array<std::string_view, 4> kTransportNames = {"http", "ws", "unix",
                                                             "other"};

// Prometheus label values: escape backslash, quote and newline.
std::string LabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

Metrics::Metrics(const std::vector<std::string>& method_names, RssReader rss_reader)
    : rss_reader_(rss_reader ? std::move(rss_reader) : RssReader(&ReadProcessRss)) {
  entries_.reserve(method_names.size() + 1);
  for (const std::string& name : method_names) {
    if (name == kUnknownMethod || index_.contains(name)) continue;
    entries_.push_back(std::make_unique<MethodEntry>(name));
    index_.emplace(entries_.back()->name, entries_.back().get());
  }
  entries_.push_back(std::make_unique<MethodEntry>(std::string(kUnknownMethod)));
  unknown_ = entries_.back().get();
}

Metrics::~Metrics() = default;

Metrics::MethodEntry& Metrics::EntryFor(std::string_view method) const {
  auto it = index_.find(method);
  return it == index_.end() ? *unknown_ : *it->second;
}

size_t Metrics::TransportIndex(std::string_view transport) {
  for (size_t i = 0; i + 1 < kTransports; ++i) {
    if (kTransportNames[i] == transport) return i;
  }
  return kTransports - 1;
}

void Metrics::RecordRequest(std::string_view method, int error_code,
                            std::chrono::nanoseconds latency) {
  MethodEntry& entry = EntryFor(method);
  entry.Count(error_code);
  const int64_t ns = latency.count() < 0 ? 0 : latency.count();
  const double seconds = static_cast<double>(ns) * 1e-9;
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) ++bucket;
  entry.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  entry.latency_sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  total_requests_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::AddInFlight(int delta) {
  in_flight_.fetch_add(delta, std::memory_order_relaxed);
}

void Metrics::ConnectionOpened(std::string_view transport) {
  const size_t i = TransportIndex(transport);
  connections_open_[i].fetch_add(1, std::memory_order_relaxed);
  connections_total_[i].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ConnectionClosed(std::string_view transport) {
  connections_open_[TransportIndex(transport)].fetch_sub(1, std::memory_order_relaxed);
}

uint64_t Metrics::TotalRequests() const {
  return total_requests_.load(std::memory_order_relaxed);
}

int64_t Metrics::InFlight() const { return in_flight_.load(std::memory_order_relaxed); }

uint64_t Metrics::RequestCount(std::string_view method, int error_code) const {
  const MethodEntry& entry = EntryFor(method);
  for (size_t i = 0; i < kCodeSlots; ++i) {
    if (entry.codes[i].load(std::memory_order_acquire) == error_code) {
      return entry.counts[i].load(std::memory_order_relaxed);
    }
  }
  return 0;
}

uint64_t Metrics::ReadProcessRss() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(4096 + entries_.size() * 2048);
  // Entries in name order for a deterministic rendering.
  std::map<std::string_view, const MethodEntry*> sorted;
  for (const auto& e : entries_) sorted.emplace(e->name, e.get());

  out += "# HELP sanpool_rpc_requests_total JSON-RPC requests by method and result code (0 = ok).\n";
  out += "# TYPE sanpool_rpc_requests_total counter\n";
  std::map<int, uint64_t> errors;
  uint64_t other_errors = 0;
  for (const auto& [name, e] : sorted) {
    std::map<int, uint64_t> by_code;
    for (size_t i = 0; i < kCodeSlots; ++i) {
      const int code = e->codes[i].load(std::memory_order_acquire);
      if (code == MethodEntry::kFree) continue;
      by_code[code] += e->counts[i].load(std::memory_order_relaxed);
    }
    const std::string label = LabelValue(name);
    for (const auto& [code, count] : by_code) {
      out += "sanpool_rpc_requests_total{method=\"" + label + "\",code=\"" +
             std::to_string(code) + "\"} " + std::to_string(count) + "\n";
      if (code != 0) errors[code] += count;
    }
    const uint64_t other = e->other_codes.load(std::memory_order_relaxed);
    if (other != 0) {
      out += "sanpool_rpc_requests_total{method=\"" + label + "\",code=\"other\"} " +
             std::to_string(other) + "\n";
      other_errors += other;
    }
  }

  out += "# HELP sanpool_rpc_errors_total JSON-RPC error responses by code.\n";
  out += "# TYPE sanpool_rpc_errors_total counter\n";
  for (const auto& [code, count] : errors) {
    out += "sanpool_rpc_errors_total{code=\"" + std::to_string(code) + "\"} " +
           std::to_string(count) + "\n";
  }
  if (other_errors != 0) {
    out += "sanpool_rpc_errors_total{code=\"other\"} " + std::to_string(other_errors) + "\n";
  }

  out += "# HELP sanpool_rpc_request_duration_seconds JSON-RPC request latency.\n";
  out += "# TYPE sanpool_rpc_request_duration_seconds histogram\n";
  for (const auto& [name, e] : sorted) {
    const std::string label = LabelValue(name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBucketBounds.size(); ++i) {
      cumulative += e->buckets[i].load(std::memory_order_relaxed);
      const std::string le = i < kBucketBounds.size() ? FormatDouble(kBucketBounds[i]) : "+Inf";
      out += "sanpool_rpc_request_duration_seconds_bucket{method=\"" + label + "\",le=\"" +
             le + "\"} " + std::to_string(cumulative) + "\n";
    }
    const double sum =
        static_cast<double>(e->latency_sum_ns.load(std::memory_order_relaxed)) * 1e-9;
    out += "sanpool_rpc_request_duration_seconds_sum{method=\"" + label + "\"} " +
           FormatDouble(sum) + "\n";
    out += "sanpool_rpc_request_duration_seconds_count{method=\"" + label + "\"} " +
           std::to_string(cumulative) + "\n";
  }

  out += "# HELP sanpool_rpc_in_flight JSON-RPC messages being handled.\n";
  out += "# TYPE sanpool_rpc_in_flight gauge\n";
  out += "sanpool_rpc_in_flight " + std::to_string(InFlight()) + "\n";

  out += "# HELP sanpool_connections_open Open client connections by transport.\n";
  out += "# TYPE sanpool_connections_open gauge\n";
  for (size_t i = 0; i < kTransports; ++i) {
    out += "sanpool_connections_open{transport=\"" + std::string(kTransportNames[i]) +
           "\"} " + std::to_string(connections_open_[i].load(std::memory_order_relaxed)) +
           "\n";
  }
  out += "# HELP sanpool_connections_total Accepted client connections by transport.\n";
  out += "# TYPE sanpool_connections_total counter\n";
  for (size_t i = 0; i < kTransports; ++i) {
    out += "sanpool_connections_total{transport=\"" + std::string(kTransportNames[i]) +
           "\"} " + std::to_string(connections_total_[i].load(std::memory_order_relaxed)) +
           "\n";
  }

  out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n";
  out += "# TYPE process_resident_memory_bytes gauge\n";
  out += "process_resident_memory_bytes " + std::to_string(rss_reader_()) + "\n";
  for (const Collector& collector : collectors_) out += collector();
  return out;
}

void Metrics::AddCollector(Collector collector) {
  collectors_.push_back(std::move(collector));
}

}  // namespace sanpool::agent
