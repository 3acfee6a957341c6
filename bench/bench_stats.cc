#include "bench/bench_stats.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>

namespace sanpool::bench {

double Series::Percentile(double p) const {
  if (ms.empty()) return 0;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  size_t i = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[i];
}

double Series::Mean() const {
  if (ms.empty()) return 0;
  return std::accumulate(ms.begin(), ms.end(), 0.0) /
         static_cast<double>(ms.size());
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return Ms(std::chrono::steady_clock::now() - start);
}

void PrintOpsTable(const std::string& first_column,
                   const std::vector<const Series*>& series, int name_width,
                   int value_width) {
  std::fprintf(stderr, "%-*s %*s %*s %*s\n", name_width, first_column.c_str(),
               value_width, "p50 ms", value_width, "p99 ms", value_width,
               "max ms");
  for (const Series* s : series) {
    std::fprintf(stderr, "%-*s %*.2f %*.2f %*.2f\n", name_width,
                 s->name.c_str(), value_width, s->Percentile(0.5), value_width,
                 s->Percentile(0.99), value_width, s->Percentile(1.0));
  }
}

void AppendOpsJson(std::ostringstream& json,
                   const std::vector<const Series*>& series, bool with_count) {
  bool first = true;
  for (const Series* s : series) {
    json << (first ? "" : ", ") << "\"" << s->name
         << "\": {\"p50_ms\": " << s->Percentile(0.5)
         << ", \"p99_ms\": " << s->Percentile(0.99)
         << ", \"max_ms\": " << s->Percentile(1.0);
    if (with_count) json << ", \"n\": " << s->ms.size();
    json << "}";
    first = false;
  }
}

void AppendSeriesJson(std::ostringstream& json,
                      const std::vector<const Series*>& series) {
  bool first = true;
  for (const Series* s : series) {
    json << (first ? "" : ", ") << "\"" << s->name
         << "_ms\": {\"p50\": " << s->Percentile(0.5)
         << ", \"p99\": " << s->Percentile(0.99)
         << ", \"max\": " << s->Percentile(1.0) << "}";
    first = false;
  }
}

void EmitJson(const std::string& json, const std::string& json_out) {
  std::cout << json;
  if (!json_out.empty()) std::ofstream(json_out) << json;
}

}  // namespace sanpool::bench
