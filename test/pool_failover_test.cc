// System test: two real agents (sanpool-agent processes) on one machine,
// each with its own sanlock daemon (SANLOCK_RUN_DIR, the LD_PRELOAD shim:
// lease/sanlock_daemon.h), sharing a file master domain in one directory.
// Create the pool, connect both: exactly one becomes SPM automatically
// (spm.auto); kill -9 the SPM agent: its daemon frees the SDM lease at once
// and the other agent becomes SPM; restart the killed agent: it rejoins from
// its local state file.
//
// Needs root and the sanlock package. Paths come from the environment
// (meson): SANPOOL_AGENT, SANPOOL_SANLOCK_SHIM.
//
// Bounded: io_timeout 2 s (a join takes ~5 s), every wait at most 60 s;
// agents and daemons are SIGKILLed and reaped in destructors (also when an
// assertion fails), and die with this process (test/agent_harness.h).
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "test/agent_harness.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using testing::AgentCluster;
using testing::AgentProcess;

constexpr char kPool[] = "6b6b6b6b-0000-4000-8000-000000000001";
constexpr char kMaster[] = "6b6b6b6b-0000-4000-8000-0000000000d1";

TEST_CASE("two agents: one SPM automatically; kill -9 it, the other takes over") {
  AgentCluster cluster({.prefix = "sanpool-pool",
                        .host_name_prefix = "sanpool-pool-host",
                        .dirs = {testing::kFilePoolDir}});
  AgentProcess& a = cluster.agent(1);
  cluster.CreateFilePool(kPool, kMaster);

  int spm = cluster.WaitForSpm(kPool, {1, 2});
  REQUIRE(spm != 0);
  int other = spm == 1 ? 2 : 1;
  // Give the other host a few contention rounds: it must stay non-SPM.
  std::this_thread::sleep_for(seconds(3));
  CHECK(cluster.agent(spm).SpmStatus(kPool) == "SPM");
  CHECK(cluster.agent(other).SpmStatus(kPool) != "SPM");
  json::value seen = cluster.agent(other).Call(
      "StoragePool.getSpmStatus", {{"storagepoolID", kPool}});
  CHECK(seen.at("spmId").as_int64() == spm);
  json::value info =
      a.Call("StoragePool.getInfo", {{"storagepoolID", kPool}});
  CHECK(info.at("info").at("spm_id").as_int64() == spm);

  cluster.agent(spm).Kill();
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(cluster.WaitForSpm(kPool, {other}) == other);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::printf("new SPM %d ms after kill -9 of the SPM agent\n",
              static_cast<int>(took.count()));
  json::value after = cluster.agent(other).Call(
      "StoragePool.getInfo", {{"storagepoolID", kPool}});
  CHECK(after.at("info").at("spm_id").as_int64() == other);
  CHECK(after.at("info").at("lver").as_int64() == 2);

  // The killed agent comes back: it restores its membership from its state
  // file (nobody calls connect) and sees the new SPM.
  AgentProcess& back = cluster.Restart(spm);
  json::value status =
      back.Call("StoragePool.getSpmStatus", {{"storagepoolID", kPool}});
  CHECK(status.at("spmStatus").as_string() != "SPM");
  CHECK(status.at("spmId").as_int64() == other);
}

}  // namespace
}  // namespace sanpool
