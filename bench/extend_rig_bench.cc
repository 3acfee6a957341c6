// extend-rig-bench: the thin-volume extend round trip on a `sanpool rig`
// (tools/rig/rig.h): real sanpool-agents, lvm2 on the rig's SAN loops,
// each host's dm emulator, the storage mailbox on a file master domain
// (issue 6's numbers). Needs root.
//
//   extend-rig-bench [--hosts H] [--levels 1,10,60] [--rounds R]
//                    [--step-mib M] [--idle-s S] [--lun-gib G] [--dir D]
//                    [--agent-config KEY=VALUE]... [--clean]
//                    [--json-out FILE]
//
// Set-up: a rig of H hosts (default 3) in D (default
// /var/tmp/sanpool-extend-rig), a pool with a file master on its NAS
// (bench/rig_bench_util.h), and on the SPM a block data domain over the
// rig's two SAN LUNs (LVMVolumeGroup.create, StorageDomain.create ISCSI,
// attach, activate). Per host max(levels) thin COW volumes of 1 GiB
// virtual size with a small initial LV (initialSize 32 MiB: one 128 MiB
// extent), created by the SPM and prepared (Image.prepare) on the host that
// will extend them.
//
// Measurement: for each level L, R rounds (default 3) in which every host
// calls Volume.extend at once for L of its volumes (threads released
// together, one connection each; the rig gives each agent 64 RPC workers),
// each to its current size + M MiB (default 128). Each call's result has
// the host's timings (ms from `queuedAt`: sent, answered, reloaded); the
// SPM publishes every lvextend it runs as Volume.lvExtended (submittedAt,
// startedAt, finishedAt, all monotonic ms like queuedAt, comparable across
// the rig's hosts because they share one machine), which the bench
// collects on a WebSocket to the SPM. A mailbox request (hosts other than
// the SPM) then splits into
//   wait      queuedAt -> lvextend start: inbox write, the SPM's poll
//             (pickup: queuedAt -> submittedAt) and its queue for one of
//             mailbox.spm_concurrency lvextend slots (queue)
//   lvextend  the SPM's ExtendLv (lvs, lvextend, its own dm reload, lvs)
//   reply     lvextend end -> the host saw the reply (outbox write + the
//             host's outbox poll)
//   reload    reply seen -> this host's mapping reloaded (lvs + dm reload)
// The SPM host's own requests take the direct path (no mailbox): reported
// in their own rows, with wait = queued -> lvextend start and reply = 0.
//
// Idle I/O: after the rounds, each agent's /proc/<pid>/io (read syscalls,
// rchar, read_bytes) over S seconds (default 10); the SPM's minus a
// non-SPM host's is the mailbox's idle cost (both also monitor domains).
//
// JSON on stdout (and --json-out), a table on stderr. Always ends with
// `rig down` (also on SIGINT/SIGTERM); --clean then removes D (the smoke
// test). Exit 1 if anything
// failed (a set-up step or any extend), 77 when not root.
// Smoke (the 'system' test extend_rig_bench):
//   extend-rig-bench --levels 1 --rounds 1 --idle-s 1 --lun-gib 8 --clean
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "agent/rpc_client.h"
#include "base/env.h"
#include "base/log.h"
#include "base/process.h"
#include "base/thread_annotations.h"
#include "bench/bench_stats.h"
#include "bench/rig_bench_util.h"
#include "tools/rig/rig.h"

namespace sanpool::bench {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr char kPool[] = "5e5e5e5e-0000-4000-8000-000000000001";
constexpr char kMaster[] = "5e5e5e5e-0000-4000-8000-0000000000d1";
constexpr char kData[] = "5e5e5e5e-0000-4000-8000-0000000000d2";
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kVirtualBytes = uint64_t{1} << 30;
constexpr uint64_t kInitialBytes = 32 * kMiB;
constexpr seconds kWaitLimit{120};
constexpr seconds kExtendCallTimeout{120};
// Volume.create tasks in flight on the SPM at once during set-up.
constexpr size_t kCreateWindow = 8;

struct Flags {
  int hosts = 3;
  std::vector<int> levels{1, 10, 60};
  int rounds = 3;
  int step_mib = 128;
  int idle_s = 10;
  int lun_gib = 200;
  bool clean = false;
  std::string dir = "/var/tmp/sanpool-extend-rig";
  std::string json_out;
  std::vector<std::string> agent_config;  // --agent-config KEY=VALUE
};

struct Volume {
  int host = 0;
  std::string image;
  std::string volume;
  uint64_t size_bytes = 0;  // the LV size as last seen
};

// The image/volume UUID of host h's i-th volume.
std::string VolumeUuid(uint16_t kind, uint16_t host, uint16_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "5e5e%04x-%04x-4000-8000-%012x", unsigned{kind},
                unsigned{host}, unsigned{index});
  return buf;
}

uint64_t ToU64(const json::value& v) {
  if (v.is_string()) return std::stoull(std::string(v.get_string()));
  return v.to_number<uint64_t>();
}

double Number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<double>() : -1;
}

// The SPM's Volume.lvExtended notifications, keyed by volume and target.
class LvExtendedLog {
 public:
  struct Entry {
    double submitted = 0, started = 0, finished = 0;
  };

  // Connects a WebSocket to `socket` (the SPM's agent) and reads until
  // Stop().
  Status Start(const std::string& socket) {
    agent::ClientOptions options;
    options.endpoint = {.kind = agent::Endpoint::Kind::kUnix, .unix_path = socket};
    options.protocol = agent::Protocol::kWebSocket;
    ASSIGN_OR_RETURN(client_, agent::RpcClient::Connect(options));
    // A call makes sure the session is subscribed before extends start.
    RETURN_IF_ERROR(client_->Call("Host.ping", json::object()).status());
    thread_ = std::thread([this] { Read(); });
    return Status::Ok();
  }

  void Stop() {
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  std::optional<Entry> Find(const std::string& volume, uint64_t target) {
    MutexLock lock(mu_);
    auto it = entries_.find({volume, target});
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  ~LvExtendedLog() { Stop(); }

 private:
  void Read() {
    for (;;) {
      {
        MutexLock lock(mu_);
        if (stop_) return;
      }
      Result<std::string> text = client_->NextNotification(std::chrono::milliseconds(100));
      if (!text.ok()) {
        if (text.status().code() == Code::kDeadlineExceeded) continue;
        std::cerr << "extend-rig-bench: notifications: " << text.status().ToString() << "\n";
        return;
      }
      boost::system::error_code ec;
      json::value v = json::parse(*text, ec);
      if (ec || !v.is_object()) continue;
      const json::value* method = v.as_object().if_contains("method");
      const json::value* params = v.as_object().if_contains("params");
      if (method == nullptr || !method->is_string() ||
          method->get_string() != "Volume.lvExtended" || params == nullptr ||
          !params->is_object()) {
        continue;
      }
      const json::object& p = params->get_object();
      const json::value* volume = p.if_contains("volumeID");
      const json::value* target = p.if_contains("requestedSize");
      if (volume == nullptr || !volume->is_string() || target == nullptr) continue;
      Entry e{Number(p, "submittedAt"), Number(p, "startedAt"), Number(p, "finishedAt")};
      MutexLock lock(mu_);
      // The first run of a request counts (a re-served one is later).
      entries_.emplace(std::make_pair(std::string(volume->get_string()), ToU64(*target)), e);
    }
  }

  std::unique_ptr<agent::RpcClient> client_;  // used by the reader thread only
  std::thread thread_;
  Mutex mu_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::map<std::pair<std::string, uint64_t>, Entry> entries_ GUARDED_BY(mu_);
};

// One path's (mailbox or local) series at one level.
struct PathSeries {
  Series total{"total"}, wait{"wait"}, pickup{"pickup"}, queue{"queue"},
      lvextend{"lvextend"}, reply{"reply"}, reload{"reload"};
  int unmatched = 0;  // mailbox requests without the SPM's lvExtended

  std::vector<const Series*> All() const {
    return {&total, &wait, &pickup, &queue, &lvextend, &reply, &reload};
  }
};

struct LevelResult {
  int level = 0;
  int requests = 0;
  int failures = 0;
  PathSeries mailbox, local;
};

struct Outcome {
  int host = 0;
  Volume* volume = nullptr;
  uint64_t target = 0;
  Status status;
  json::object result;
};

class Bench {
 public:
  Bench(rig::Rig& r, Flags flags) : r_(r), flags_(std::move(flags)) {}

  Status Run() {
    std::vector<int> all;
    for (int h = 1; h <= flags_.hosts; ++h) all.push_back(h);
    RETURN_IF_ERROR(SetUpFilePool(r_, flags_.hosts, kPool, kMaster));
    spm_ = WaitForSpm(r_, all, kPool, kWaitLimit);
    if (spm_ == 0) return DeadlineExceededError("no SPM after the pool was connected");
    std::fprintf(stderr, "pool up, host %d is the SPM\n", spm_);
    RETURN_IF_ERROR(SetUpBlockDomain());
    RETURN_IF_ERROR(CreateVolumes());
    RETURN_IF_ERROR(PrepareVolumes());
    LvExtendedLog log;
    RETURN_IF_ERROR(log.Start(r_.layout().Host(spm_).agent_socket));
    for (int level : flags_.levels) {
      LevelResult result;
      result.level = level;
      for (int round = 0; round < flags_.rounds; ++round) {
        RETURN_IF_ERROR(Round(level, log, result));
      }
      results_.push_back(std::move(result));
    }
    log.Stop();
    return MeasureIdleIo();
  }

  // JSON of everything measured; the table on stderr.
  std::string Report() const;
  int failures() const {
    int n = 0;
    for (const LevelResult& r : results_) n += r.failures;
    return n;
  }

 private:
  Result<json::value> Call(int host, const std::string& method, json::object params,
                           seconds timeout = kRigCallTimeout) {
    return RigCall(r_, host, method, json::value(std::move(params)), timeout);
  }

  Status SetUpBlockDomain() {
    ASSIGN_OR_RETURN(rig::RigStatus status, r_.GetStatus());
    luns_ = status.state.luns;
    json::array devices(luns_.begin(), luns_.end());
    ASSIGN_OR_RETURN(json::value vg, Call(spm_, "LVMVolumeGroup.create",
                                          {{"name", kData}, {"devlist", devices}}, kWaitLimit));
    RETURN_IF_ERROR(Call(spm_, "StorageDomain.create",
                         {{"storagedomainID", kData},
                          {"domainType", 3},
                          {"typeArgs", vg},
                          {"name", "extend bench"},
                          {"domainClass", 1}},
                         kWaitLimit)
                        .status());
    for (const char* verb : {"StorageDomain.attach", "StorageDomain.activate"}) {
      RETURN_IF_ERROR(
          Call(spm_, verb, {{"storagedomainID", kData}, {"storagepoolID", kPool}}, kWaitLimit)
              .status());
    }
    std::fprintf(stderr, "block domain %s on %zu LUNs attached and active\n", kData,
                 luns_.size());
    return Status::Ok();
  }

  Status CreateVolumes() {
    const int per_host = *std::max_element(flags_.levels.begin(), flags_.levels.end());
    const auto start = std::chrono::steady_clock::now();
    for (int h = 1; h <= flags_.hosts; ++h) {
      for (int i = 0; i < per_host; ++i) {
        volumes_.push_back({h, VolumeUuid(0x1a, static_cast<uint16_t>(h), static_cast<uint16_t>(i)),
                            VolumeUuid(0x70, static_cast<uint16_t>(h), static_cast<uint16_t>(i)), 0});
      }
    }
    std::vector<std::string> tasks;
    auto drain = [&]() -> Status {
      for (const std::string& task : tasks) {
        RETURN_IF_ERROR(WaitTask(r_, spm_, task, kWaitLimit));
      }
      tasks.clear();
      return Status::Ok();
    };
    for (const Volume& v : volumes_) {
      ASSIGN_OR_RETURN(json::value task,
                       Call(spm_, "Volume.create",
                            {{"storagedomainID", kData},
                             {"storagepoolID", kPool},
                             {"imageID", v.image},
                             {"volumeID", v.volume},
                             {"size", std::to_string(kVirtualBytes)},
                             {"volFormat", 4},
                             {"preallocate", 2},
                             {"diskType", "DATA"},
                             {"desc", "extend bench"},
                             {"srcImgUUID", ""},
                             {"srcVolUUID", ""},
                             {"initialSize", std::to_string(kInitialBytes)}},
                            kWaitLimit));
      if (!task.is_string()) return UnknownError("Volume.create: no task id");
      tasks.emplace_back(task.get_string());
      if (tasks.size() >= kCreateWindow) RETURN_IF_ERROR(drain());
    }
    RETURN_IF_ERROR(drain());
    std::fprintf(stderr, "%zu thin COW volumes created in %.1f s\n", volumes_.size(),
                 MsSince(start) / 1000);
    return Status::Ok();
  }

  // Each host prepares its own volumes (hosts in parallel).
  Status PrepareVolumes() {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Status> status(flags_.hosts + 1);
    std::vector<std::thread> threads;
    for (int h = 1; h <= flags_.hosts; ++h) {
      threads.emplace_back([&, h] {
        for (Volume& v : volumes_) {
          if (v.host != h) continue;
          Result<json::value> prepared =
              Call(h, "Image.prepare",
                   {{"storagedomainID", kData}, {"imageID", v.image}, {"volumeID", v.volume}},
                   kWaitLimit);
          if (!prepared.ok()) {
            status[h] = prepared.status();
            return;
          }
          Result<json::value> info =
              Call(h, "Volume.getInfo",
                   {{"storagedomainID", kData}, {"imageID", v.image}, {"volumeID", v.volume}});
          if (!info.ok()) {
            status[h] = info.status();
            return;
          }
          v.size_bytes = ToU64(info->at("apparentsize"));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& s : status) RETURN_IF_ERROR(s);
    std::fprintf(stderr, "volumes prepared on their hosts in %.1f s (LV %" PRIu64 " MiB)\n",
                 MsSince(start) / 1000, volumes_.front().size_bytes / kMiB);
    return Status::Ok();
  }

  // Every host extends `level` of its volumes at once.
  Status Round(int level, LvExtendedLog& log, LevelResult& result) {
    std::vector<Outcome> outcomes;
    for (int h = 1; h <= flags_.hosts; ++h) {
      int n = 0;
      for (Volume& v : volumes_) {
        if (v.host != h || n++ >= level) continue;
        outcomes.push_back({h, &v, v.size_bytes + uint64_t(flags_.step_mib) * kMiB, {}, {}});
      }
    }
    std::latch go(static_cast<std::ptrdiff_t>(outcomes.size()));
    std::vector<std::thread> threads;
    for (Outcome& o : outcomes) {
      threads.emplace_back([this, &o, &go] {
        agent::ClientOptions options;
        options.endpoint = {.kind = agent::Endpoint::Kind::kUnix,
                            .unix_path = r_.layout().Host(o.host).agent_socket};
        options.request_timeout = kExtendCallTimeout;
        Result<std::unique_ptr<agent::RpcClient>> client = agent::RpcClient::Connect(options);
        go.arrive_and_wait();
        if (!client.ok()) {
          o.status = client.status();
          return;
        }
        Result<agent::RpcReply> reply =
            (*client)->Call("Volume.extend", json::object{{"storagedomainID", kData},
                                                          {"storagepoolID", kPool},
                                                          {"imageID", o.volume->image},
                                                          {"volumeID", o.volume->volume},
                                                          {"newSize", std::to_string(o.target)}});
        if (!reply.ok()) {
          o.status = reply.status();
        } else if (!reply->ok()) {
          o.status = UnknownError("Volume.extend: error " + std::to_string(reply->error->code) +
                                  ": " + reply->error->message);
        } else if (!reply->result.is_object()) {
          o.status = UnknownError("Volume.extend: result is not an object");
        } else {
          o.result = reply->result.get_object();
        }
      });
    }
    for (std::thread& t : threads) t.join();

    // The SPM publishes lvExtended before it writes the reply, so it is
    // normally there already; allow the WebSocket a moment.
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    for (Outcome& o : outcomes) {
      ++result.requests;
      if (!o.status.ok()) {
        ++result.failures;
        std::cerr << "host " << o.host << " extend of " << o.volume->volume << ": "
                  << o.status.ToString() << "\n";
        continue;
      }
      o.volume->size_bytes = std::max(o.target, ToU64(o.result.at("newSize")));
      const json::object& t = o.result.at("timings").as_object();
      const double queued_at = Number(t, "queuedAt");
      const double sent = Number(t, "sent");
      const double answered = Number(t, "answered");
      const double reloaded = Number(t, "reloaded");
      const bool local = o.result.at("path") == "local";
      PathSeries& s = local ? result.local : result.mailbox;
      s.total.ms.push_back(reloaded);
      s.reload.ms.push_back(reloaded - answered);
      if (local) {
        s.wait.ms.push_back(sent);
        s.lvextend.ms.push_back(answered - sent);
        s.reply.ms.push_back(0);
        continue;
      }
      std::optional<LvExtendedLog::Entry> lv;
      for (;;) {
        lv = log.Find(o.volume->volume, o.target);
        if (lv || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!lv) {
        ++s.unmatched;
        continue;
      }
      s.wait.ms.push_back(lv->started - queued_at);
      s.pickup.ms.push_back(lv->submitted - queued_at);
      s.queue.ms.push_back(lv->started - lv->submitted);
      s.lvextend.ms.push_back(lv->finished - lv->started);
      s.reply.ms.push_back(queued_at + answered - lv->finished);
    }
    return Status::Ok();
  }

  struct Io {
    uint64_t syscr = 0, rchar = 0, read_bytes = 0;
  };

  static Result<Io> ReadIo(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/io");
    if (!in) return UnavailableError("cannot read /proc/" + std::to_string(pid) + "/io");
    Io io;
    std::string key;
    uint64_t value = 0;
    while (in >> key >> value) {
      if (key == "syscr:") io.syscr = value;
      if (key == "rchar:") io.rchar = value;
      if (key == "read_bytes:") io.read_bytes = value;
    }
    return io;
  }

  Status MeasureIdleIo() {
    ASSIGN_OR_RETURN(rig::RigStatus status, r_.GetStatus());
    std::this_thread::sleep_for(seconds(2));  // let the last replies settle
    std::vector<std::pair<int, Io>> before;
    for (const rig::HostStatus& h : status.hosts) {
      ASSIGN_OR_RETURN(Io io, ReadIo(h.agent.record.pid));
      before.emplace_back(h.index, io);
    }
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(seconds(flags_.idle_s));
    const double s = MsSince(start) / 1000;
    for (size_t i = 0; i < before.size(); ++i) {
      ASSIGN_OR_RETURN(Io after, ReadIo(status.hosts[i].agent.record.pid));
      const Io& b = before[i].second;
      idle_.push_back({before[i].first, (after.syscr - b.syscr) / s,
                       (after.rchar - b.rchar) / s / 1024,
                       (after.read_bytes - b.read_bytes) / s / 1024});
    }
    return Status::Ok();
  }

  struct IdleIo {
    int host;
    double reads_per_s, rchar_kib_per_s, read_bytes_kib_per_s;
  };

  rig::Rig& r_;
  const Flags flags_;
  int spm_ = 0;
  std::vector<std::string> luns_;
  std::vector<Volume> volumes_;
  std::vector<LevelResult> results_;
  std::vector<IdleIo> idle_;
};

void PrintRow(int level, const char* path, const PathSeries& s) {
  if (s.total.ms.empty()) return;
  std::fprintf(stderr, "%5d %-8s %5zu | %7.0f %7.0f %7.0f | %7.0f %7.0f %7.0f %7.0f\n", level,
               path, s.total.ms.size(), s.total.Percentile(0.5), s.total.Percentile(0.99),
               s.total.Percentile(1.0), s.wait.Percentile(0.5), s.lvextend.Percentile(0.5),
               s.reply.Percentile(0.5), s.reload.Percentile(0.5));
}

void AppendPathJson(std::ostringstream& json, const char* name, const PathSeries& s) {
  json << "\"" << name << "\": {\"requests\": " << s.total.ms.size()
       << ", \"unmatched\": " << s.unmatched << ", ";
  AppendSeriesJson(json, s.All());
  json << "}";
}

std::string Bench::Report() const {
  std::ostringstream json;
  json << "{\"bench\": \"extend-rig\", \"hosts\": " << flags_.hosts << ", \"spm_host\": " << spm_
       << ", \"rounds\": " << flags_.rounds << ", \"step_mib\": " << flags_.step_mib
       << ", \"agent_config\": [";
  std::string config_line;
  for (size_t i = 0; i < flags_.agent_config.size(); ++i) {
    json << (i ? ", " : "") << json::value(flags_.agent_config[i]);
    config_line += " " + flags_.agent_config[i];
  }
  json << "], \"levels\": [";
  std::fprintf(stderr,
               "\nextend round trip on the rig, %d hosts (host %d SPM: its requests are "
               "'local'), %d rounds, +%d MiB each%s%s\n",
               flags_.hosts, spm_, flags_.rounds, flags_.step_mib,
               config_line.empty() ? "" : "; agent config:", config_line.c_str());
  std::fprintf(stderr, "%5s %-8s %5s | %23s | %31s\n", "per-h", "path", "reqs",
               "total p50/p99/max ms", "wait lvextend reply reload p50");
  bool first = true;
  for (const LevelResult& r : results_) {
    PrintRow(r.level, "mailbox", r.mailbox);
    PrintRow(r.level, "local", r.local);
    json << (first ? "" : ", ") << "{\"concurrent_per_host\": " << r.level
         << ", \"requests\": " << r.requests << ", \"failures\": " << r.failures << ", ";
    AppendPathJson(json, "mailbox", r.mailbox);
    json << ", ";
    AppendPathJson(json, "local", r.local);
    json << "}";
    first = false;
  }
  json << "], \"idle_io_s\": " << flags_.idle_s << ", \"idle_io\": [";
  std::fprintf(stderr, "idle agents over %d s (read syscalls/s, rchar KiB/s, read_bytes KiB/s):\n",
               flags_.idle_s);
  first = true;
  for (const IdleIo& io : idle_) {
    std::fprintf(stderr, "  host %d%s: %.1f reads/s, %.1f KiB/s, %.1f KiB/s from disk\n",
                 io.host, io.host == spm_ ? " (SPM)" : "", io.reads_per_s, io.rchar_kib_per_s,
                 io.read_bytes_kib_per_s);
    json << (first ? "" : ", ") << "{\"host\": " << io.host
         << ", \"spm\": " << (io.host == spm_ ? "true" : "false")
         << ", \"read_syscalls_per_s\": " << io.reads_per_s
         << ", \"rchar_kib_per_s\": " << io.rchar_kib_per_s
         << ", \"read_bytes_kib_per_s\": " << io.read_bytes_kib_per_s << "}";
    first = false;
  }
  json << "]}\n";
  return json.str();
}

// SIGINT/SIGTERM (Ctrl-C, meson's timeout): the rig goes down before the
// process exits (1). Best effort: Down() runs on `r` while the main thread
// may still be using it (it only gets errors from then on, and waits for
// this thread's exit instead of returning). Call before
// any other thread starts, so that they all inherit the blocked signals.
std::atomic<bool> interrupted{false};

void DownOnSignal(rig::Rig& r, std::string dir, bool clean) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([&r, set, dir = std::move(dir), clean] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    interrupted = true;
    std::cerr << "extend-rig-bench: signal " << sig << ": rig down\n";
    Status down = r.Down();
    // Once more if the main thread's own Down raced with this one.
    if (!down.ok()) down = r.Down();
    if (!down.ok()) std::cerr << "extend-rig-bench: rig down: " << down.ToString() << "\n";
    std::error_code ec;
    if (down.ok() && clean) std::filesystem::remove_all(dir, ec);
    std::_Exit(1);
  }).detach();
}

std::vector<int> ParseLevels(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int v = std::atoi(item.c_str());
    if (v < 1) return {};
    out.push_back(v);
  }
  return out;
}

int Main(int argc, char** argv) {
  Flags flags;
  bool usage = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--clean") {
      flags.clean = true;
      continue;
    }
    std::string value = i + 1 < argc ? argv[++i] : "";
    if (arg == "--hosts") flags.hosts = std::atoi(value.c_str());
    else if (arg == "--levels") flags.levels = ParseLevels(value);
    else if (arg == "--rounds") flags.rounds = std::atoi(value.c_str());
    else if (arg == "--step-mib") flags.step_mib = std::atoi(value.c_str());
    else if (arg == "--idle-s") flags.idle_s = std::atoi(value.c_str());
    else if (arg == "--lun-gib") flags.lun_gib = std::atoi(value.c_str());
    else if (arg == "--dir") flags.dir = value;
    else if (arg == "--json-out") flags.json_out = value;
    else if (arg == "--agent-config") flags.agent_config.push_back(value);
    else usage = true;
  }
  if (usage || flags.hosts < 2 || flags.levels.empty() || flags.rounds < 1 ||
      flags.step_mib < 1 || flags.idle_s < 1 || flags.lun_gib < 1) {
    std::cerr << "usage: extend-rig-bench [--hosts H>=2] [--levels 1,10,60] [--rounds R] "
                 "[--step-mib M] [--idle-s S] [--lun-gib G] [--dir D] "
                 "[--agent-config KEY=VALUE]... [--clean] [--json-out FILE]\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "extend-rig-bench: needs root (loop devices, FUSE, sanlock); skipped\n";
    return 77;  // meson: skipped
  }
  log::SetLevel(log::Level::kWarning);
  Result<rig::RigBinaries> binaries = rig::FindRigBinaries();
  if (!binaries.ok()) {
    std::cerr << "extend-rig-bench: " << binaries.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  PosixProcessRunner runner;
  rig::Rig r(*env, runner, *binaries, flags.dir);
  DownOnSignal(r, flags.dir, flags.clean);
  Bench bench(r, flags);
  // Two sparse LUNs: the VG holds hosts x max(levels) volumes grown by
  // rounds x step each; lvm writes only metadata.
  Status run = RunOnRig(
      r, {.hosts = flags.hosts, .luns = 2, .lun_size = uint64_t(flags.lun_gib) << 30,
          .agent_config = flags.agent_config},
      [&] { return bench.Run(); }, "extend-rig-bench");
  // After a signal, DownOnSignal's thread ends the process.
  while (interrupted) std::this_thread::sleep_for(std::chrono::seconds(1));
  if (run.ok() && flags.clean) {
    std::error_code ec;
    std::filesystem::remove_all(flags.dir, ec);
    if (ec) run = ErrnoToStatus(ec.value(), "remove " + flags.dir);
  }
  if (!run.ok()) {
    std::cerr << "extend-rig-bench: " << run.ToString() << "\n";
    return 1;
  }
  EmitJson(bench.Report(), flags.json_out);
  return bench.failures() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
