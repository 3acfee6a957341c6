// System test: thin-volume extends through the storage mailbox on three
// real agents (sanpool-agent processes, each with its own sanlock daemon and
// its own sanpool-dmemu, dm.backend = user) under faults and load.
//
// The SAN is two sparse 40 GiB files on loop devices holding one block data
// domain (real lvm2); the pool's master is a file domain in a shared
// directory, so the mailbox is its dom_md/inbox and dom_md/outbox. Host 1
// makes the block domain and its thin COW volumes (LV 128 MiB, 4 GiB
// virtual) before the pool exists (the domain stays out of the pool: the
// extend path only needs its VG), then the pool; every host connects and
// one becomes SPM by itself. Every extend is absolute, so each check is
// "the LV is exactly the target" (extents of 128 MiB, targets multiples).
//
// In order, on the same pool:
//   (g) 3 hosts at once, 10 concurrent requests each (volumes prepared on
//       the requesting host; the SPM's own go the local path);
//   (f) 80 concurrent requests from one non-SPM host (more than its 63
//       mailbox slots);
//   (e) VG full: the request fails with a clear error, the SPM tried once
//       (no retry storm), and the same host's next request works;
//   (d) garbage over a host's inbox area (bad checksum): the SPM logs and
//       skips it and serves the other host; the garbaged host's next request
//       rewrites its area and is served;
//   (h) StoragePool.spmStop right after 20 requests were sent: what the
//       old SPM refuses is left for the next one, never failed (regression:
//       it was answered with size 0, the protocol's failure);
//   (a) the SPM agent SIGKILLed right after 20 requests from the other two
//       hosts were sent: another host becomes SPM and serves them all;
//   (b) host crash of the new SPM (its agent, sanlock daemon and dmemu
//       killed) with 20 requests pending: once sanlock lets another host
//       take the SDM lease, everything completes.
// EIO and latency on the mailbox devices are in spm/extend_faults_system_test.cc
// (the master here is a file domain: its mailbox is not on a dm device).
//
// Needs root, lvm2, sanlock, qemu-img. Paths from the environment (meson):
// SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM.
//
// Bounded: every wait at most kWaitLimit, RPCs at most kCallLimit (meson
// timeout 900 s). Cleanup in destructors, also when an assertion fails:
// agents and sanlock daemons killed (AgentCluster), dmemu daemons stopped
// (their mappings go), the VG removed and the loops detached (LoopDevices).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/rpc_client.h"
#include "base/process.h"
#include "base/status.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "test/agent_harness.h"
#include "test/block_host_util.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using testing::AgentCluster;
using testing::AgentProcess;

constexpr char kPool[] = "8e8e8e8e-0000-4000-8000-000000000001";
constexpr char kMaster[] = "8e8e8e8e-0000-4000-8000-0000000000f1";
constexpr char kSd[] = "8e8e8e8e-0000-4000-8000-0000000000b1";
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kDeviceBytes = 40 * kGiB;  // sparse
constexpr uint64_t kCapacity = 4 * kGiB;
constexpr uint64_t kInitial = 100 * kMiB;  // x 1.1 -> one 128 MiB extent
constexpr uint64_t kLv = 128 * kMiB;
constexpr seconds kWaitLimit{180};
constexpr seconds kCallLimit{240};
constexpr int kHosts = 3;
constexpr int kPerHost = 10;  // (g)
constexpr int kBurst = 80;    // (f)

// Volume n: image and volume UUIDs.
std::string VolUuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "8e8e8e8e-0000-4000-8001-%012x", n);
  return buf;
}
std::string ImgUuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "8e8e8e8e-0000-4000-8002-%012x", n);
  return buf;
}
// (g): host h's i-th volume; (f): burst volume i; (e): the huge one.
int GVol(int host, int i) { return host * 100 + i; }
int FVol(int i) { return 1000 + i; }
constexpr int kHugeVol = 2000;

int64_t TaskCode(const json::object& status) {
  const json::value& code = status.at("code");
  return code.is_int64() ? code.as_int64()
                         : std::stoll(std::string(code.as_string()));
}

uint64_t ToU64(const json::value& v) {
  if (v.is_string()) return std::stoull(std::string(v.as_string()));
  return v.to_number<uint64_t>();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t CountLines(const std::string& text, const std::string& a,
                  const std::string& b) {
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.find(a) != std::string_view::npos &&
        line.find(b) != std::string_view::npos) {
      ++n;
    }
    pos = end + 1;
  }
  return n;
}

// One Volume.extend from a host, on its own connection.
struct Call {
  int host = 0;
  int vol = 0;
  uint64_t target = 0;
  Status transport;        // connect/transport error
  agent::RpcReply reply;
  steady_clock::time_point finished;
};

// Runs the calls at once, one thread and connection each. Catch2 is not
// thread-safe: results are recorded and checked by the caller after Wait.
class Calls {
 public:
  Calls(std::string dir, std::vector<Call> calls)
      : dir_(std::move(dir)), calls_(std::move(calls)) {
    for (Call& c : calls_) {
      threads_.emplace_back([this, &c] { Run(c); });
    }
  }
  ~Calls() { Wait(); }

  std::vector<Call>& Wait() {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    return calls_;
  }

 private:
  void Run(Call& c) {
    auto endpoint = agent::ParseEndpoint("unix:" + dir_ + "/agent" +
                                         std::to_string(c.host) + ".sock");
    if (!endpoint.ok()) {
      c.transport = endpoint.status();
      return;
    }
    auto client = agent::RpcClient::Connect(
        {.endpoint = *endpoint,
         .connect_timeout = milliseconds(10000),
         .request_timeout = kCallLimit});
    if (!client.ok()) {
      c.transport = client.status();
      return;
    }
    auto reply = (*client)->Call(
        "Volume.extend",
        json::object{{"storagedomainID", kSd},
                     {"imageID", ImgUuid(c.vol)},
                     {"volumeID", VolUuid(c.vol)},
                     {"newSize", std::to_string(c.target)}});
    c.finished = steady_clock::now();
    if (!reply.ok()) {
      c.transport = reply.status();
      return;
    }
    c.reply = std::move(*reply);
  }

  std::string dir_;
  std::vector<Call> calls_;
  std::vector<std::thread> threads_;
};

// The pool, its agents and the SAN, plus verbs for the scenarios.
class ExtendPool {
 public:
  ExtendPool() : san_(runner_), lvm_(runner_, {}), lvs_(lvm_, {}) {
    san_.Create("sanpool-extfault", 2, kDeviceBytes);
    san_.set_vg(kSd);
    lvs_.SetDevices({san_.loops()[0], san_.loops()[1]});
    for (int h = 1; h <= kHosts; ++h) {
      dm_.push_back(std::make_unique<dmemu::Daemon>(
          san_.dir(), "host" + std::to_string(h)));
    }
    cluster_ = std::make_unique<AgentCluster>(testing::AgentClusterOptions{
        .prefix = "sanpool-extfault",
        .host_name_prefix = "sanpool-extfault-host",
        .hosts = kHosts,
        .dirs = {testing::kFilePoolDir},
        .host_sets = [this](int h) -> std::vector<std::string> {
          std::vector<std::string> sets =
              testing::BlockHostSets(*dm_.at(h - 1), san_.loops());
          sets.insert(sets.end(), {"rpc.worker_threads=128",
                                   "mailbox.resend_timeout_s=2",
                                   "mailbox.extend_timeout_s=200"});
          return sets;
        },
        .wait_limit = kWaitLimit});
  }
  ~ExtendPool() {
    cluster_.reset();  // agents, then their sanlock daemons
    dm_.clear();       // then the mappings; `san_` last
  }

  AgentCluster& cluster() { return *cluster_; }
  AgentProcess& agent(int h) { return cluster_->agent(h); }

  // Host 1 (in no pool yet) makes the VG, the block domain and the volumes.
  void CreateDomainAndVolumes(const std::vector<int>& vols) {
    AgentProcess& a = agent(1);
    testing::CreateBlockDomain(a, kSd, san_.loops(), "thin data");
    std::vector<json::value> tasks;
    for (int v : vols) {
      const uint64_t capacity = v == kHugeVol ? 1024 * kGiB : kCapacity;
      tasks.push_back(a.Call(
          "Volume.create",
          {{"storagedomainID", kSd}, {"imageID", ImgUuid(v)},
           {"volumeID", VolUuid(v)}, {"size", std::to_string(capacity)},
           {"volFormat", 4}, {"preallocate", 2}, {"diskType", "DATA"},
           {"desc", "thin"}, {"srcImgUUID", ""}, {"srcVolUUID", ""},
           {"initialSize", std::to_string(kInitial)}}));
    }
    for (const json::value& task : tasks) {
      json::object done = a.WaitTask(task);
      INFO(json::serialize(done) << "\n" << a.LogTail());
      REQUIRE(TaskCode(done) == 0);
    }
  }

  // Host `h` maps the volume (Image.prepare); the device path.
  std::string Prepare(int h, int vol) {
    json::object prepared =
        agent(h)
            .Call("Image.prepare", {{"storagedomainID", kSd},
                                    {"imageID", ImgUuid(vol)},
                                    {"volumeID", VolUuid(vol)}})
            .as_object();
    return std::string(prepared.at("path").as_string());
  }

  // The LV's size as lvm has it now.
  uint64_t LvSize(int vol) {
    lvs_.InvalidateLvs(kSd);
    Result<lvm::Lv> lv = lvs_.GetLv(kSd, VolUuid(vol));
    INFO(lv.status().ToString());
    REQUIRE(lv.ok());
    return lv->size_bytes;
  }

  // The size of a mapped device as this machine sees it.
  static uint64_t DeviceSize(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    off_t end = ::lseek(fd, 0, SEEK_END);
    ::close(fd);
    REQUIRE(end >= 0);
    return static_cast<uint64_t>(end);
  }

  void CreatePool() { cluster_->CreateFilePool(kPool, kMaster); }

  int WaitForSpm(const std::vector<int>& hosts) {
    return cluster_->WaitForSpm(kPool, hosts);
  }

  std::string MasterFile(const std::string& name) const {
    return cluster_->dir() + "/" + testing::kFilePoolDir + "/" + kMaster +
           "/dom_md/" + name;
  }
  std::string AgentLog(int h) const {
    return ReadFile(cluster_->dir() + "/agent" + std::to_string(h) + ".log");
  }

  // Host crash: the agent, its sanlock daemon (no lease is released) and
  // its dm daemon die.
  void CrashHost(int h) {
    agent(h).Kill();
    const std::string pid_file =
        cluster_->dir() + "/sl" + std::to_string(h) + "/sanlock.pid";
    std::ifstream in(pid_file);
    long pid = 0;
    in >> pid;
    INFO(pid_file);
    REQUIRE(pid > 1);
    ::kill(static_cast<pid_t>(-pid), SIGKILL);  // its own process group
    ::kill(static_cast<pid_t>(pid), SIGKILL);   // reaped by the harness
    dm_.at(h - 1)->Stop();
  }

  // Starts the calls; Wait() on the result.
  std::unique_ptr<Calls> Start(std::vector<Call> calls) {
    return std::make_unique<Calls>(cluster_->dir(), std::move(calls));
  }

  // Waits for the calls; every one must succeed with newSize == target and
  // leave the LV at exactly its target.
  void ExpectAllExtended(Calls& calls) {
    int failed = 0;
    for (Call& c : calls.Wait()) {
      INFO("host " << c.host << " vol " << c.vol << " target " << c.target
                   << ": " << c.transport.ToString() << " "
                   << (c.reply.ok() ? json::serialize(c.reply.result)
                                    : c.reply.raw));
      CHECK(c.transport.ok());
      CHECK(c.reply.ok());
      if (!c.transport.ok() || !c.reply.ok()) {
        ++failed;
        continue;
      }
      CHECK(ToU64(c.reply.result.at("newSize")) == c.target);
      CHECK(LvSize(c.vol) == c.target);
    }
    if (failed > 0) {
      for (int h = 1; h <= kHosts; ++h) {
        UNSCOPED_INFO("agent " << h << ":\n" << agent(h).LogTail());
      }
    }
    REQUIRE(failed == 0);
  }

 private:
  PosixProcessRunner runner_;
  block::LoopDevices san_;  // destroyed last
  lvm::Lvm lvm_;
  lvm::LvmCache lvs_;
  std::vector<std::unique_ptr<dmemu::Daemon>> dm_;
  std::unique_ptr<AgentCluster> cluster_;
};

std::vector<int> Others(int spm, const std::vector<int>& alive) {
  std::vector<int> out;
  for (int h : alive) {
    if (h != spm) out.push_back(h);
  }
  return out;
}

TEST_CASE("extends through the mailbox under load, garbage, VG full and "
          "SPM failures", "[extend_faults]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  ExtendPool pool;
  std::vector<int> vols;
  for (int h = 1; h <= kHosts; ++h) {
    for (int i = 0; i < kPerHost; ++i) vols.push_back(GVol(h, i));
  }
  for (int i = 0; i < kBurst; ++i) vols.push_back(FVol(i));
  vols.push_back(kHugeVol);
  pool.CreateDomainAndVolumes(vols);
  CHECK(pool.LvSize(GVol(1, 0)) == kLv);

  pool.CreatePool();
  int spm = pool.WaitForSpm({1, 2, 3});
  REQUIRE(spm != 0);
  std::vector<int> others = Others(spm, {1, 2, 3});
  const int n1 = others[0], n2 = others[1];

  // (g) Every host maps its 10 volumes; 3 x 10 requests at once.
  std::vector<std::string> paths(kHosts + 1);
  for (int h = 1; h <= kHosts; ++h) {
    for (int i = 0; i < kPerHost; ++i) {
      std::string path = pool.Prepare(h, GVol(h, i));
      if (i == 0) paths[h] = path;
    }
  }
  {
    std::vector<Call> calls;
    for (int h = 1; h <= kHosts; ++h) {
      for (int i = 0; i < kPerHost; ++i) {
        calls.push_back({.host = h, .vol = GVol(h, i), .target = 2 * kLv});
      }
    }
    auto running = pool.Start(std::move(calls));
    pool.ExpectAllExtended(*running);
    for (const Call& c : running->Wait()) {
      CHECK(c.reply.result.at("path").as_string() ==
            (c.host == spm ? "local" : "mailbox"));
    }
    // Each host's mapping grew with the LV.
    for (int h = 1; h <= kHosts; ++h) {
      CHECK(ExtendPool::DeviceSize(paths[h]) == 2 * kLv);
    }
  }

  // (f) 80 requests at once from one host (unmapped volumes: the refresh
  // only reads the LV size).
  {
    std::vector<Call> calls;
    for (int i = 0; i < kBurst; ++i) {
      calls.push_back({.host = n1, .vol = FVol(i), .target = 2 * kLv});
    }
    auto running = pool.Start(std::move(calls));
    pool.ExpectAllExtended(*running);
  }

  // (e) VG full: size 0 from the SPM, a clear error here, one attempt.
  {
    agent::RpcReply full =
        pool.agent(n2).Raw("Volume.extend",
                           {{"storagedomainID", kSd},
                            {"imageID", ImgUuid(kHugeVol)},
                            {"volumeID", VolUuid(kHugeVol)},
                            {"newSize", std::to_string(900 * kGiB)}});
    REQUIRE_FALSE(full.ok());
    INFO(full.raw);
    CHECK(full.error->code ==
          -32000 - static_cast<int>(Code::kResourceExhausted));
    CHECK(full.error->message.find("could not extend") != std::string::npos);
    CHECK(pool.LvSize(kHugeVol) == kLv);
    std::this_thread::sleep_for(seconds(5));  // > 2 resend periods
    CHECK(CountLines(pool.AgentLog(spm), "mailbox-spm: extend failed",
                     VolUuid(kHugeVol)) == 1);
    auto next = pool.Start({{.host = n2, .vol = GVol(n2, 0), .target = 3 * kLv}});
    pool.ExpectAllExtended(*next);
  }

  // (d) Garbage over n1's inbox area: skipped, n2 still served; n1's next
  // request rewrites its area.
  {
    std::string garbage(4096, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) {
      garbage[i] = static_cast<char>((i * 7 + 13) & 0xff);
    }
    int fd = ::open(pool.MasterFile("inbox").c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, garbage.data(), garbage.size(),
                     static_cast<off_t>(n1) * 4096) == 4096);
    REQUIRE(::fsync(fd) == 0);
    ::close(fd);
    const std::string skipped =
        "skipping host mailbox host_id=" + std::to_string(n1);
    auto deadline = steady_clock::now() + kWaitLimit;
    while (pool.AgentLog(spm).find(skipped) == std::string::npos) {
      REQUIRE(steady_clock::now() < deadline);
      std::this_thread::sleep_for(milliseconds(100));
    }
    auto served = pool.Start({{.host = n2, .vol = GVol(n2, 1), .target = 3 * kLv}});
    pool.ExpectAllExtended(*served);
    auto repaired = pool.Start({{.host = n1, .vol = GVol(n1, 1), .target = 3 * kLv}});
    pool.ExpectAllExtended(*repaired);
  }

  // (h) The SPM gives the role up (StoragePool.spmStop) right after 20
  // requests from the others were sent: what its batcher then refuses (654)
  // is left unanswered, not failed with size 0; the next SPM (automatic
  // contention, maybe the same host again) serves it.
  {
    std::vector<Call> calls;
    for (int h : {n1, n2}) {
      for (int i = 0; i < kPerHost; ++i) {
        calls.push_back({.host = h, .vol = GVol(h, i), .target = 4 * kLv});
      }
    }
    auto running = pool.Start(std::move(calls));
    std::this_thread::sleep_for(milliseconds(30));
    pool.agent(spm).Call("StoragePool.spmStop", {{"storagepoolID", kPool}});
    pool.ExpectAllExtended(*running);
    spm = pool.WaitForSpm({1, 2, 3});
    REQUIRE(spm != 0);
    others = Others(spm, {1, 2, 3});
  }

  // (a) SIGKILL of the SPM agent with 20 requests just sent from the others.
  {
    std::vector<Call> calls;
    for (int h : others) {
      for (int i = 0; i < kPerHost; ++i) {
        calls.push_back({.host = h, .vol = GVol(h, i), .target = 5 * kLv});
      }
    }
    auto running = pool.Start(std::move(calls));
    std::this_thread::sleep_for(milliseconds(30));
    pool.agent(spm).Kill();
    const auto killed = steady_clock::now();
    const int next = pool.WaitForSpm(others);
    REQUIRE(next != 0);
    pool.ExpectAllExtended(*running);
    // Some were served by the new SPM: they ended well after the kill
    // (a reply the old SPM wrote is seen within milliseconds).
    int late = 0;
    for (const Call& c : running->Wait()) {
      if (c.finished - killed > seconds(1)) ++late;
    }
    CHECK(late > 0);
    std::printf("SPM agent %d killed: host %d serves, %d of 20 requests "
                "served after the failover\n", spm, next, late);
    pool.cluster().Restart(spm);  // rejoins from its state file
    spm = next;
  }

  // (b) Host crash of the SPM: 20 requests pending from the other two.
  {
    others = Others(spm, {1, 2, 3});
    std::vector<Call> calls;
    for (int h : others) {
      for (int i = 0; i < kPerHost; ++i) {
        calls.push_back({.host = h, .vol = GVol(h, i), .target = 6 * kLv});
      }
    }
    // The restarted host must be connected again before it can ask.
    for (int h : others) {
      auto deadline = steady_clock::now() + kWaitLimit;
      while (!pool.agent(h)
                  .Raw("StoragePool.getSpmStatus", {{"storagepoolID", kPool}})
                  .ok()) {
        REQUIRE(steady_clock::now() < deadline);
        std::this_thread::sleep_for(milliseconds(200));
      }
    }
    auto running = pool.Start(std::move(calls));
    std::this_thread::sleep_for(milliseconds(30));
    const auto crashed = steady_clock::now();
    pool.CrashHost(spm);
    const int next = pool.WaitForSpm(others);
    REQUIRE(next != 0);
    pool.ExpectAllExtended(*running);
    std::printf("host %d crashed: host %d SPM after %lld ms\n", spm, next,
                static_cast<long long>(
                    std::chrono::duration_cast<milliseconds>(
                        steady_clock::now() - crashed)
                        .count()));
  }
}

}  // namespace
}  // namespace sanpool
