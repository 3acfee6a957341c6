// Pieces shared by the mailbox benches (mailbox-bench, extend-bench):
// counted UUIDs, a fresh inbox/outbox pair on a file system with O_DIRECT,
// and the CLI helpers. Latency series: bench/bench_stats.h.
#ifndef SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_
#define SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "bench/bench_stats.h"
#include "mailbox/format.h"
#include "mailbox/mailbox_io.h"

namespace sanpool::bench {

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

// The flags both mailbox benches take; a bench's Config derives from it.
struct CommonFlags {
  std::string parent = "/var/tmp";        // --dir
  int hosts = 3;                          // --hosts
  std::vector<int> levels = {1, 10, 60};  // --levels
  int rounds = 10;                        // --rounds
  int spm_concurrency = 1;                // --spm-concurrency
  std::string json_out;                   // --json-out
};

// When `arg` is one of CommonFlags' flags: its value, from `next()`, into
// `flags`, and true; else false (nothing read).
template <typename Next>
bool ParseCommonFlag(const std::string& arg, Next&& next, CommonFlags& flags) {
  if (arg == "--dir") {
    flags.parent = next();
  } else if (arg == "--hosts") {
    flags.hosts = std::atoi(next().c_str());
  } else if (arg == "--levels") {
    flags.levels = ParseLevels(next());
  } else if (arg == "--rounds") {
    flags.rounds = std::atoi(next().c_str());
  } else if (arg == "--spm-concurrency") {
    flags.spm_concurrency = std::atoi(next().c_str());
  } else if (arg == "--json-out") {
    flags.json_out = next();
  } else {
    return false;
  }
  return true;
}

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_MAILBOX_BENCH_UTIL_H_
