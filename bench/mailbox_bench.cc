// mailbox-bench: extend round trip through the storage mailbox (issue 6's
// numbers) on regular files with O_DIRECT, engines in one process.
//
//   mailbox-bench [--dir DIR] [--hosts N] [--levels 1,10,60] [--rounds R]
//                 [--extend-delay-ms D] [--spm-concurrency C]
//                 [--idle-seconds S] [--json-out FILE]
//
// For each level L: a fresh inbox/outbox pair (250 host areas) under DIR
// (default /var/tmp; tmpfs has no O_DIRECT), one SpmMailbox and N
// HostMailboxes (default 3) at their default intervals; R rounds (default
// 10) in which every host asks at once for L extends of distinct volumes and
// waits for all of them. The SPM's extend callback sleeps D ms (default 0;
// 45 is what a real lvextend costs) and records when it ran; the hosts'
// reload is instant. Each request's round trip (request -> reply -> reload)
// is split into wait (queued -> SPM starts the extend), extend, reply
// (extend done -> host sees the reply) and reload. Then an idle SPM serving
// N hosts runs for S seconds (default 2) and its I/O is counted.
// JSON on stdout (and --json-out), a table on stderr.
#include <linux/magic.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/fault_env.h"
#include "base/log.h"
#include "bench/mailbox_bench_util.h"
#include "mailbox/host_mailbox.h"
#include "mailbox/mailbox_io.h"
#include "mailbox/spm_mailbox.h"

namespace sanpool::bench {
namespace {

using mailbox::kMiB;

// The shared VG: LV sizes, and when each volume's extend ran.
class BenchVg {
 public:
  explicit BenchVg(Clock& clock, Duration delay)
      : clock_(clock), delay_(delay) {}

  Result<uint64_t> Extend(const mailbox::SpmExtendRequest& r) {
    const SteadyTime start = clock_.SteadyNow();
    if (delay_ > Duration::zero()) std::this_thread::sleep_for(delay_);
    MutexLock lock(mu_);
    uint64_t& size = sizes_[r.volume_uuid];
    size = std::max(size, r.target_bytes);
    spans_[r.volume_uuid] = {start, clock_.SteadyNow()};
    return size;
  }
  Result<uint64_t> Reload(const mailbox::ExtendRequest& r) {
    MutexLock lock(mu_);
    return sizes_[r.volume_uuid];
  }
  std::pair<SteadyTime, SteadyTime> Span(const std::string& volume) {
    MutexLock lock(mu_);
    return spans_[volume];
  }

 private:
  Clock& clock_;
  const Duration delay_;
  Mutex mu_;
  std::map<std::string, uint64_t> sizes_ GUARDED_BY(mu_);
  std::map<std::string, std::pair<SteadyTime, SteadyTime>> spans_
      GUARDED_BY(mu_);
};

struct Config : CommonFlags {
  Config() {
    spm_concurrency = mailbox::SpmMailboxOptions{}.extend_concurrency;
  }
  int extend_delay_ms = 0;
  int idle_seconds = 2;
};

struct LevelResult {
  int level = 0;
  int requests = 0;
  int failures = 0;
  Series total{"total"}, wait{"wait"}, extend{"extend"}, reply{"reply"},
      reload{"reload"};
};

std::vector<int> HostIds(int hosts) {
  std::vector<int> ids;
  for (int h = 1; h <= hosts; ++h) ids.push_back(h);
  return ids;
}

Result<LevelResult> RunLevel(Env& env, const Config& config, int level) {
  SystemClock clock;
  ASSIGN_OR_RETURN(MailboxFiles files, MakeMailboxFiles(env, config.parent));
  BenchVg vg(clock, std::chrono::milliseconds(config.extend_delay_ms));
  mailbox::SpmMailboxOptions spm_options;
  spm_options.inbox_path = files.inbox;
  spm_options.outbox_path = files.outbox;
  spm_options.extend_concurrency = config.spm_concurrency;
  const std::vector<int> ids = HostIds(config.hosts);
  mailbox::SpmMailbox spm(
      env, clock, spm_options,
      [&vg](const mailbox::SpmExtendRequest& r) { return vg.Extend(r); },
      [ids] { return ids; });
  RETURN_IF_ERROR(spm.Start());
  std::vector<std::unique_ptr<mailbox::HostMailbox>> hosts;
  for (int id : ids) {
    mailbox::HostMailboxOptions options;
    options.inbox_path = files.inbox;
    options.outbox_path = files.outbox;
    options.host_id = id;
    hosts.push_back(std::make_unique<mailbox::HostMailbox>(
        env, clock, options,
        [&vg](const mailbox::ExtendRequest& r) { return vg.Reload(r); }));
    RETURN_IF_ERROR(hosts.back()->Start());
  }

  LevelResult result;
  result.level = level;
  int next_volume = 0;
  for (int round = 0; round < config.rounds; ++round) {
    std::vector<std::pair<std::string, std::future<mailbox::ExtendOutcome>>>
        pending;
    for (auto& host : hosts) {
      for (int i = 0; i < level; ++i) {
        const int v = next_volume++;
        mailbox::ExtendRequest request{CountedUuid(0x5d, 1),
                                       CountedUuid(0x1a, v),
                                       CountedUuid(0x70, v), 2048 * kMiB};
        pending.emplace_back(request.volume_uuid,
                             host->RequestExtend(request));
      }
    }
    for (auto& [volume, future] : pending) {
      mailbox::ExtendOutcome outcome = future.get();
      ++result.requests;
      if (!outcome.status.ok()) {
        ++result.failures;
        std::cerr << "extend failed: " << outcome.status.ToString() << "\n";
        continue;
      }
      const auto [start, end] = vg.Span(volume);
      const mailbox::ExtendTimings& t = outcome.timings;
      result.total.ms.push_back(Ms(t.completed - t.queued));
      result.wait.ms.push_back(Ms(start - t.queued));
      result.extend.ms.push_back(Ms(end - start));
      result.reply.ms.push_back(Ms(t.answered - end));
      result.reload.ms.push_back(Ms(t.completed - t.answered));
    }
  }
  for (auto& host : hosts) host->Stop();
  spm.Stop();
  std::filesystem::remove_all(files.dir);
  return result;
}

struct IdleResult {
  double seconds = 0;
  double reads_per_s = 0;
  double writes_per_s = 0;
  double event_reads_per_s = 0;
  double scans_per_s = 0;
};

Result<IdleResult> RunIdle(Env& base, const Config& config) {
  SystemClock clock;
  ASSIGN_OR_RETURN(MailboxFiles files, MakeMailboxFiles(base, config.parent));
  FaultEnv counting(base);  // no faults: counts the SPM's I/O
  mailbox::SpmMailboxOptions options;
  options.inbox_path = files.inbox;
  options.outbox_path = files.outbox;
  const std::vector<int> ids = HostIds(config.hosts);
  mailbox::SpmMailbox spm(
      counting, clock, options,
      [](const mailbox::SpmExtendRequest& r) -> Result<uint64_t> {
        return r.target_bytes;
      },
      [ids] { return ids; });
  RETURN_IF_ERROR(spm.Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // settle
  counting.ResetCounts();
  const mailbox::SpmMailboxStats before = spm.stats();
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(config.idle_seconds));
  const double s = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  const mailbox::SpmMailboxStats after = spm.stats();
  IdleResult r;
  r.seconds = s;
  r.reads_per_s = counting.Count(Op::kDirectRead) / s;
  r.writes_per_s = counting.Count(Op::kDirectWrite) / s;
  r.event_reads_per_s = (after.event_reads - before.event_reads) / s;
  r.scans_per_s = (after.scans - before.scans) / s;
  spm.Stop();
  std::filesystem::remove_all(files.dir);
  return r;
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (ParseCommonFlag(arg, next, config)) continue;
    if (arg == "--extend-delay-ms") {
      config.extend_delay_ms = std::atoi(next().c_str());
    } else if (arg == "--idle-seconds") {
      config.idle_seconds = std::atoi(next().c_str());
    } else {
      std::cerr << "usage: mailbox-bench [--dir DIR] [--hosts N] "
                   "[--levels 1,10,60] [--rounds R] [--extend-delay-ms D] "
                   "[--spm-concurrency C] [--idle-seconds S] "
                   "[--json-out FILE]\n";
      return 2;
    }
  }
  if (config.hosts < 1 || config.hosts > mailbox::kDefaultMaxHostId ||
      config.rounds < 1 || config.levels.empty()) {
    std::cerr << "mailbox-bench: bad arguments\n";
    return 2;
  }
  log::SetLevel(log::Level::kWarning);
  std::unique_ptr<Env> env = NewPosixEnv();

  std::ostringstream json;
  json << "{\"bench\": \"mailbox\", \"hosts\": " << config.hosts
       << ", \"rounds\": " << config.rounds
       << ", \"extend_delay_ms\": " << config.extend_delay_ms
       << ", \"spm_concurrency\": " << config.spm_concurrency
       << ", \"levels\": [";
  std::fprintf(stderr,
               "extend round trip, %d hosts, extend delay %d ms, SPM "
               "concurrency %d\n",
               config.hosts, config.extend_delay_ms, config.spm_concurrency);
  std::fprintf(stderr, "%6s %5s | %22s | %8s %8s %8s %8s (p50 ms)\n",
               "per-h", "reqs", "total p50/p99/max ms", "wait", "extend",
               "reply", "reload");
  bool first = true;
  int failures = 0;
  for (int level : config.levels) {
    Result<LevelResult> r = RunLevel(*env, config, level);
    if (!r.ok()) {
      std::cerr << "level " << level << ": " << r.status().ToString() << "\n";
      return 1;
    }
    failures += r->failures;
    std::fprintf(stderr, "%6d %5d | %6.1f %6.1f %8.1f | %8.1f %8.1f %8.1f %8.1f\n",
                 level, r->requests, r->total.Percentile(0.5),
                 r->total.Percentile(0.99), r->total.Percentile(1.0),
                 r->wait.Percentile(0.5), r->extend.Percentile(0.5),
                 r->reply.Percentile(0.5), r->reload.Percentile(0.5));
    json << (first ? "" : ", ") << "{\"concurrent_per_host\": " << level
         << ", \"requests\": " << r->requests
         << ", \"failures\": " << r->failures << ", ";
    AppendSeriesJson(json,
                     {&r->total, &r->wait, &r->extend, &r->reply, &r->reload});
    json << "}";
    first = false;
  }
  json << "]";
  Result<IdleResult> idle = RunIdle(*env, config);
  if (!idle.ok()) {
    std::cerr << "idle: " << idle.status().ToString() << "\n";
    return 1;
  }
  json << ", \"spm_idle\": {\"reads_per_s\": " << idle->reads_per_s
       << ", \"writes_per_s\": " << idle->writes_per_s
       << ", \"event_reads_per_s\": " << idle->event_reads_per_s
       << ", \"scans_per_s\": " << idle->scans_per_s << "}}\n";
  std::fprintf(stderr,
               "SPM idle (%d hosts): %.1f reads/s (%.1f event, %.1f scans), "
               "%.1f writes/s\n",
               config.hosts, idle->reads_per_s, idle->event_reads_per_s,
               idle->scans_per_s, idle->writes_per_s);
  EmitJson(json.str(), config.json_out);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
