// failover-bench: time to a new SPM after the SPM's agent crashes, on a
// `sanpool rig` (tools/rig/rig.h), next to sanlock's bound for the
// io_timeout in use (lease/timeouts.h). Needs root.
//
//   failover-bench [--runs N] [--host-crash-runs M] [--hosts H] [--dir D]
//                  [--io-timeout S] [--json-out FILE]
//
// Builds a rig of H hosts (default 3) in D (default
// /var/tmp/sanpool-failover-bench), a file master domain on its NAS and a
// pool that every host connects to (spm.auto: one becomes SPM). Then N times
// (default 10): SIGKILL the SPM's agent (`rig kill-agent`), poll the other
// hosts' StoragePool.getSpmStatus every 20 ms until one reports SPM (the
// measured time), restart the killed agent (`rig start-host`; it rejoins from
// its local state) and wait until it answers for the pool again.
// Then M times (default 0: each run takes HostDead, ~80 s at io 2) the same
// with `rig kill-host`: the SPM's sanlock daemon, dm emulator and agent die
// together, and the others must wait until sanlock reports the host DEAD.
//
// The agent's sanlock daemon stays alive, so it frees the SDM lease as soon
// as the agent dies; the new SPM pays its contention back-off
// (spm.backoff_max_ms), a free-lease acquire (at most
// PaxosAcquireFreeMax(io) = 6 io) and the polling; the bound printed beside
// the numbers is that sum. After a host crash the bound is
// PaxosAcquireHeldMax(io) = HostDead(io) + 7 io (+ the back-off), HostDead
// being 8 io + 60 s (lease/timeouts.h).
//
// JSON on stdout (and --json-out), a table on stderr. Always ends with
// `rig down`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/env.h"
#include "base/log.h"
#include "base/process.h"
#include "bench/rig_bench_util.h"
#include "lease/timeouts.h"
#include "tools/rig/rig.h"

namespace sanpool::bench {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr char kPool[] = "5b5b5b5b-0000-4000-8000-000000000001";
constexpr char kMaster[] = "5b5b5b5b-0000-4000-8000-0000000000d1";
constexpr auto kWaitLimit = std::chrono::seconds(180);
// The agent's default spm.backoff_max_ms (agent/agent_config.cc).
constexpr auto kBackoffMax = std::chrono::milliseconds(1000);

enum class Crash { kAgent, kHost };

struct Flags {
  int runs = 10;
  int host_crash_runs = 0;
  int hosts = 3;
  int io_timeout_s = static_cast<int>(lease::kRigIoTimeout.count());
  std::string dir = "/var/tmp/sanpool-failover-bench";
  std::string json_out;
};

// The first of `hosts` that reports SPM; 0 on timeout.
int WaitForSpm(rig::Rig& r, const std::vector<int>& hosts) {
  return bench::WaitForSpm(r, hosts, kPool, kWaitLimit);
}

std::string SpmState(rig::Rig& r, int host) { return bench::SpmState(r, host, kPool); }

Result<std::vector<double>> Measure(rig::Rig& r, const Flags& flags, Crash crash, int runs) {
  std::vector<int> all;
  for (int h = 1; h <= flags.hosts; ++h) all.push_back(h);
  int spm = WaitForSpm(r, all);
  if (spm == 0) return DeadlineExceededError("no SPM after the pool was connected");
  std::vector<double> ms;
  for (int run = 1; run <= runs; ++run) {
    std::vector<int> others;
    for (int h : all) {
      if (h != spm) others.push_back(h);
    }
    const auto killed = Clock::now();
    RETURN_IF_ERROR(crash == Crash::kAgent ? r.KillAgent(spm) : r.KillHost(spm));
    int next = WaitForSpm(r, others);
    if (next == 0) return DeadlineExceededError("no new SPM after killing host " + std::to_string(spm));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed).count());
    std::fprintf(stderr, "%s crash %d: host %d -> host %d in %.0f ms\n",
                 crash == Crash::kAgent ? "agent" : "host", run, spm, next, ms.back());
    // Bring the old SPM's agent back and let it rejoin the pool.
    RETURN_IF_ERROR(r.StartHost(spm, std::chrono::seconds(60)));
    const auto deadline = Clock::now() + kWaitLimit;
    while (SpmState(r, spm).empty()) {
      if (Clock::now() > deadline) return DeadlineExceededError("restarted agent did not rejoin");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    spm = next;
  }
  return ms;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

json::object Summary(const std::vector<double>& ms, double bound_ms) {
  json::object o{{"runs", ms.size()},
                 {"samples_ms", json::array(ms.begin(), ms.end())},
                 {"sanlock_bound_ms", bound_ms}};
  if (!ms.empty()) {
    o["median_ms"] = Median(ms);
    o["max_ms"] = *std::max_element(ms.begin(), ms.end());
  }
  return o;
}

void PrintRow(const char* name, const std::vector<double>& ms, double bound_ms) {
  if (ms.empty()) {
    std::fprintf(stderr, "  %-26s %5d %10s %10s %11.0f ms\n", name, 0, "-", "-", bound_ms);
    return;
  }
  std::fprintf(stderr, "  %-26s %5zu %7.0f ms %7.0f ms %11.0f ms\n", name, ms.size(), Median(ms),
               *std::max_element(ms.begin(), ms.end()), bound_ms);
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--runs") flags.runs = std::atoi(value.c_str());
    else if (arg == "--host-crash-runs") flags.host_crash_runs = std::atoi(value.c_str());
    else if (arg == "--hosts") flags.hosts = std::atoi(value.c_str());
    else if (arg == "--io-timeout") flags.io_timeout_s = std::atoi(value.c_str());
    else if (arg == "--dir") flags.dir = value;
    else if (arg == "--json-out") flags.json_out = value;
    else {
      std::cerr << "usage: failover-bench [--runs N] [--host-crash-runs M] [--hosts H] "
                   "[--dir D] [--io-timeout S] [--json-out FILE]\n";
      return 2;
    }
    ++i;
  }
  if (flags.runs < 1 || flags.host_crash_runs < 0 || flags.hosts < 2 || flags.io_timeout_s < 1) {
    std::cerr << "failover-bench: need --runs >= 1, --hosts >= 2, --io-timeout >= 1\n";
    return 2;
  }
  log::SetLevel(log::Level::kWarning);
  Result<rig::RigBinaries> binaries = rig::FindRigBinaries();
  if (!binaries.ok()) {
    std::cerr << "failover-bench: " << binaries.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  PosixProcessRunner runner;
  rig::Rig r(*env, runner, *binaries, flags.dir);
  std::vector<double> agent_ms, host_ms;
  Status run = RunOnRig(
      r,
      {.hosts = flags.hosts, .luns = 1, .lun_size = uint64_t{1} << 30,
       .io_timeout_s = flags.io_timeout_s},
      [&]() -> Status {
        RETURN_IF_ERROR(SetUpFilePool(r, flags.hosts, kPool, kMaster));
        ASSIGN_OR_RETURN(agent_ms, Measure(r, flags, Crash::kAgent, flags.runs));
        ASSIGN_OR_RETURN(host_ms, Measure(r, flags, Crash::kHost, flags.host_crash_runs));
        return Status::Ok();
      },
      "failover-bench");
  if (!run.ok()) {
    std::cerr << "failover-bench: " << run.ToString() << "\n";
    return 1;
  }

  const lease::Seconds io(flags.io_timeout_s);
  auto ms_of = [](lease::Seconds s) { return std::chrono::duration<double, std::milli>(s).count(); };
  const double backoff_ms = std::chrono::duration<double, std::milli>(kBackoffMax).count();
  const double agent_bound_ms = ms_of(lease::PaxosAcquireFreeMax(io)) + backoff_ms;
  const double host_dead_ms = ms_of(lease::HostDead(io));
  const double host_bound_ms = ms_of(lease::PaxosAcquireHeldMax(io)) + backoff_ms;
  json::object out{{"bench", "failover"},
                   {"hosts", flags.hosts},
                   {"io_timeout_s", flags.io_timeout_s},
                   {"agent_crash", Summary(agent_ms, agent_bound_ms)},
                   {"host_crash", Summary(host_ms, host_bound_ms)},
                   {"host_crash_host_dead_ms", host_dead_ms}};
  std::string text = json::serialize(out);
  std::cout << text << "\n";
  if (!flags.json_out.empty()) std::ofstream(flags.json_out) << text << "\n";
  std::fprintf(stderr, "\nSPM failover, %d hosts, io_timeout %d s\n  %-26s %5s %10s %10s %14s\n",
               flags.hosts, flags.io_timeout_s, "scenario -> new SPM", "runs", "median", "max",
               "sanlock bound");
  PrintRow("agent crash (kill-agent)", agent_ms, agent_bound_ms);
  PrintRow("host crash (kill-host)", host_ms, host_bound_ms);
  std::fprintf(stderr, "  (host crash: others may take the lease at HostDead = %.0f ms)\n",
               host_dead_ms);
  return 0;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
