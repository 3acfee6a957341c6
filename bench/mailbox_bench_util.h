// Pieces shared by the mailbox benches (mailbox-bench, extend-bench):
// latency series with percentiles, counted UUIDs, a fresh inbox/outbox pair
// on a file system with O_DIRECT, and the JSON/CLI helpers.
#ifndef SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_
#define SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "mailbox/format.h"
#include "mailbox/mailbox_io.h"

namespace sanpool::bench {

struct Series {
  std::string name;
  std::vector<double> ms;

  double Percentile(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    size_t i = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
    return sorted[i];
  }
};

inline double Ms(Duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

inline std::string CountedUuid(int kind, int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

// A fresh inbox/outbox pair (250 host areas) in a new directory under
// `parent` (not tmpfs: O_DIRECT).
struct MailboxFiles {
  std::string dir, inbox, outbox;
};
inline Result<MailboxFiles> MakeMailboxFiles(Env& env,
                                             const std::string& parent) {
  std::string templ = parent + "/sanpool-mailbox-bench-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return ErrnoToStatus(errno, "mkdtemp " + templ);
  }
  MailboxFiles f{templ, templ + "/inbox", templ + "/outbox"};
  RETURN_IF_ERROR(mailbox::CreateMailboxFile(env, f.inbox,
                                             mailbox::kDefaultMaxHostId));
  RETURN_IF_ERROR(mailbox::CreateMailboxFile(env, f.outbox,
                                             mailbox::kDefaultMaxHostId));
  return f;
}

// "1,10,60" -> {1, 10, 60}.
inline std::vector<int> ParseLevels(const std::string& text) {
  std::vector<int> levels;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) levels.push_back(std::atoi(item.c_str()));
  return levels;
}

// "<name>_ms": {"p50": .., "p99": .., "max": ..}
inline void AppendSeries(std::ostringstream& json, const Series& s) {
  json << "\"" << s.name << "_ms\": {\"p50\": " << s.Percentile(0.5)
       << ", \"p99\": " << s.Percentile(0.99)
       << ", \"max\": " << s.Percentile(1.0) << "}";
}

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_
