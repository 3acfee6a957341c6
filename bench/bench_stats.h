// Latency series and their report, shared by the benches: p50/p99/max/mean
// of a series of milliseconds, the stderr table and the JSON objects the
// benches print, and writing the JSON to stdout (and --json-out).
//
// Thread-safety: a Series is a plain value (no locking); the functions keep
// no state.
#ifndef SANPOOL_BENCH_BENCH_STATS_H_
#define SANPOOL_BENCH_BENCH_STATS_H_

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace sanpool::bench {

// One operation's latencies, in milliseconds, in the order measured.
struct Series {
  std::string name;
  std::vector<double> ms;

  // The nearest-rank percentile, p in [0, 1] (1.0 is the max); 0 when
  // empty.
  double Percentile(double p) const;
  // The arithmetic mean; 0 when empty.
  double Mean() const;
};

// Milliseconds from `start` to now (steady clock).
double MsSince(std::chrono::steady_clock::time_point start);

// Milliseconds of a duration.
template <typename Rep, typename Period>
double Ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// To stderr: a header `<first_column> p50 ms p99 ms max ms` and a row
// `<name> p50 p99 max` (%.2f) a series; the name column is `name_width`
// wide, the numbers `value_width`.
void PrintOpsTable(const std::string& first_column,
                   const std::vector<const Series*>& series, int name_width,
                   int value_width);

// `"<name>": {"p50_ms": .., "p99_ms": .., "max_ms": ..[, "n": ..]}` a
// series, comma-separated, onto `json` (the caller writes the braces
// around them).
void AppendOpsJson(std::ostringstream& json,
                   const std::vector<const Series*>& series, bool with_count);

// `"<name>_ms": {"p50": .., "p99": .., "max": ..}` a series,
// comma-separated, onto `json`.
void AppendSeriesJson(std::ostringstream& json,
                      const std::vector<const Series*>& series);

// `json` to stdout and, when `json_out` is not empty, into that file
// (replaced).
void EmitJson(const std::string& json, const std::string& json_out);

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_BENCH_STATS_H_
