// extend-bench: the extend round trip through spm::ExtendService (issue 6's
// numbers), engines in one process on regular files with O_DIRECT.
//
//   extend-bench [--dir DIR] [--hosts N] [--levels 1,10,60] [--rounds R]
//                [--lvextend-ms D] [--lvm-model serial|batched]
//                [--domains K] [--spm-concurrency C] [--json-out FILE]
//
// N services (default 3) share one inbox/outbox pair under DIR (default
// /var/tmp); host 1 is the SPM, so its own requests take the direct path and
// the others' go through the mailbox, as on a real cluster. For each level L,
// R rounds (default 10) in which every host asks at once for L extends of
// distinct volumes spread over K domains (VGs, default 1) and waits for all.
// The fake lvextend costs D ms (default 45, a real lvextend on the rig):
//   serial   D per volume, one volume per call (BlockExtender: one
//            lvextend per LV); calls overlap freely (this fake has no VG
//            lock, real lvm serialises the metadata commits within a VG);
//   batched  D per Extender call whatever its size, up to 64 volumes per
//            call (an Extender that makes one lvm call per batch).
// The refresh is instant. Each request's round trip is split into send
// (queued -> sent: the inbox write, or the batch start on the SPM), spm
// (sent -> answered: waiting for and running the lvextend, and the reply)
// and reload (answered -> reloaded). JSON on stdout (and --json-out), a
// table on stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "base/thread_annotations.h"
#include "bench/mailbox_bench_util.h"
#include "spm/extend_service.h"
#include "spm/extender.h"
#include "spm/role.h"

namespace sanpool::bench {
namespace {

using mailbox::kMiB;

enum class LvmModel { kSerial, kBatched };

// The shared VGs: LV sizes; lvextend costs `delay`.
class BenchExtender final : public spm::Extender {
 public:
  BenchExtender(Duration delay, LvmModel model) : delay_(delay), model_(model) {}

  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string&, const std::vector<spm::VolumeTarget>& volumes) override {
    if (model_ == LvmModel::kBatched) std::this_thread::sleep_for(delay_);
    std::vector<Result<uint64_t>> out;
    for (const spm::VolumeTarget& v : volumes) {
      if (model_ == LvmModel::kSerial) std::this_thread::sleep_for(delay_);
      MutexLock lock(mu_);
      uint64_t& size = sizes_[v.volume_uuid];
      size = std::max(size, v.target_bytes);
      out.push_back(size);
    }
    return out;
  }
  size_t MaxBatch() const override {
    return model_ == LvmModel::kBatched ? 64 : 1;
  }
  uint64_t Size(const std::string& volume) {
    MutexLock lock(mu_);
    return sizes_[volume];
  }

 private:
  const Duration delay_;
  const LvmModel model_;
  Mutex mu_;
  std::map<std::string, uint64_t> sizes_ GUARDED_BY(mu_);
};

class BenchRefresher final : public spm::VolumeRefresher {
 public:
  explicit BenchRefresher(BenchExtender& vg) : vg_(vg) {}
  Result<uint64_t> Refresh(const mailbox::ExtendRequest& r,
                           Changed /*changed*/) override {
    return vg_.Size(r.volume_uuid);
  }

 private:
  BenchExtender& vg_;
};

class FixedRole final : public spm::SpmRole {
 public:
  explicit FixedRole(bool spm) : spm_(spm) {}
  Status RequireSpm() const override {
    return spm_ ? Status::Ok() : spm::NotSpmError();
  }
  bool IsSpm() const override { return spm_; }

 private:
  const bool spm_;
};

struct Config : CommonFlags {
  Config() { spm_concurrency = spm::ExtendServiceOptions{}.spm_concurrency; }
  int lvextend_ms = 45;
  LvmModel model = LvmModel::kSerial;
  int domains = 1;
};

struct LevelResult {
  int level = 0;
  int requests = 0;
  int failures = 0;
  int local = 0;
  Series total{"total"}, send{"send"}, spm{"spm"}, reload{"reload"};
};

Result<LevelResult> RunLevel(Env& env, const Config& config, int level) {
  SystemClock clock;
  ASSIGN_OR_RETURN(MailboxFiles files, MakeMailboxFiles(env, config.parent));
  BenchExtender vg(std::chrono::milliseconds(config.lvextend_ms), config.model);
  BenchRefresher refresher(vg);
  FixedRole spm_role(true), host_role(false);
  std::vector<std::unique_ptr<spm::ExtendService>> services;
  for (int id = 1; id <= config.hosts; ++id) {
    spm::ExtendServiceDeps deps{
        .env = &env,
        .clock = &clock,
        .role = id == 1 ? &spm_role : &host_role,
        .extender = &vg,
        .refresher = &refresher,
        .locate = [&files, id]() -> Result<spm::MailboxLocation> {
          return spm::MailboxLocation{files.inbox, files.outbox, id};
        }};
    services.push_back(std::make_unique<spm::ExtendService>(
        std::move(deps),
        spm::ExtendServiceOptions{.spm_concurrency = config.spm_concurrency}));
    RETURN_IF_ERROR(services.back()->Start());
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!services[0]->ServingMailbox()) {
    if (std::chrono::steady_clock::now() > limit) {
      return UnavailableError("SPM mailbox did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  LevelResult result;
  result.level = level;
  int next_volume = 0;
  for (int round = 0; round < config.rounds; ++round) {
    std::vector<std::future<spm::ExtendResult>> pending;
    for (auto& service : services) {
      for (int i = 0; i < level; ++i) {
        const int v = next_volume++;
        pending.push_back(service->Extend(
            {CountedUuid(0x5d, v % config.domains), CountedUuid(0x1a, v),
             CountedUuid(0x70, v), 2048 * kMiB}));
      }
    }
    for (auto& future : pending) {
      spm::ExtendResult r = future.get();
      ++result.requests;
      if (!r.status.ok()) {
        ++result.failures;
        std::cerr << "extend failed: " << r.status.ToString() << "\n";
        continue;
      }
      if (r.path == spm::ExtendPath::kLocal) ++result.local;
      const spm::ExtendTimings& t = r.timings;
      result.total.ms.push_back(Ms(t.reloaded - t.queued));
      result.send.ms.push_back(Ms(t.sent - t.queued));
      result.spm.ms.push_back(Ms(t.answered - t.sent));
      result.reload.ms.push_back(Ms(t.reloaded - t.answered));
    }
  }
  for (auto& service : services) service->Stop();
  std::filesystem::remove_all(files.dir);
  return result;
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (ParseCommonFlag(arg, next, config)) continue;
    if (arg == "--lvextend-ms") {
      config.lvextend_ms = std::atoi(next().c_str());
    } else if (arg == "--lvm-model") {
      const std::string m = next();
      if (m != "serial" && m != "batched") config.hosts = 0;  // usage below
      config.model = m == "batched" ? LvmModel::kBatched : LvmModel::kSerial;
    } else if (arg == "--domains") {
      config.domains = std::atoi(next().c_str());
    } else {
      config.hosts = 0;
    }
  }
  if (config.hosts < 1 || config.hosts > mailbox::kDefaultMaxHostId ||
      config.rounds < 1 || config.levels.empty() || config.domains < 1 ||
      config.spm_concurrency < 1) {
    std::cerr << "usage: extend-bench [--dir DIR] [--hosts N] "
                 "[--levels 1,10,60] [--rounds R] [--lvextend-ms D] "
                 "[--lvm-model serial|batched] [--domains K] "
                 "[--spm-concurrency C] [--json-out FILE]\n";
    return 2;
  }
  log::SetLevel(log::Level::kWarning);
  std::unique_ptr<Env> env = NewPosixEnv();
  const char* model = config.model == LvmModel::kSerial ? "serial" : "batched";

  std::ostringstream json;
  json << "{\"bench\": \"extend\", \"hosts\": " << config.hosts
       << ", \"rounds\": " << config.rounds
       << ", \"lvextend_ms\": " << config.lvextend_ms << ", \"lvm_model\": \""
       << model << "\", \"domains\": " << config.domains
       << ", \"spm_concurrency\": " << config.spm_concurrency
       << ", \"levels\": [";
  std::fprintf(stderr,
               "extend round trip via ExtendService, %d hosts (host 1 SPM), "
               "lvextend %d ms %s, %d domain(s)\n",
               config.hosts, config.lvextend_ms, model, config.domains);
  std::fprintf(stderr, "%6s %5s %5s | %22s | %8s %8s %8s (p50 ms)\n", "per-h",
               "reqs", "local", "total p50/p99/max ms", "send", "spm",
               "reload");
  bool first = true;
  int failures = 0;
  for (int level : config.levels) {
    Result<LevelResult> r = RunLevel(*env, config, level);
    if (!r.ok()) {
      std::cerr << "level " << level << ": " << r.status().ToString() << "\n";
      return 1;
    }
    failures += r->failures;
    std::fprintf(stderr, "%6d %5d %5d | %6.1f %6.1f %8.1f | %8.1f %8.1f %8.1f\n",
                 level, r->requests, r->local, r->total.Percentile(0.5),
                 r->total.Percentile(0.99), r->total.Percentile(1.0),
                 r->send.Percentile(0.5), r->spm.Percentile(0.5),
                 r->reload.Percentile(0.5));
    json << (first ? "" : ", ") << "{\"concurrent_per_host\": " << level
         << ", \"requests\": " << r->requests << ", \"local\": " << r->local
         << ", \"failures\": " << r->failures << ", ";
    AppendSeriesJson(json, {&r->total, &r->send, &r->spm, &r->reload});
    json << "}";
    first = false;
  }
  json << "]}\n";
  EmitJson(json.str(), config.json_out);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
