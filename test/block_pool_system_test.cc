// System test: a storage pool whose master is a BLOCK domain, on three real
// agents (sanpool-agent processes), each with its own sanlock daemon and its
// own sanpool-dmemu (dm.backend = user), sharing two loop devices (the SAN)
// and a file domain directory.
//
// Host 1 makes the block domain (LVMVolumeGroup.create, StorageDomain.create:
// the master LV gets its ext3) and a file domain, then the pool with the
// block master; all hosts connect. Exactly one becomes SPM by itself; its
// master LV is mounted (ext3) under its run dir with master/tasks. A volume
// made on the SPM is seen by another host. The SPM agent is killed
// (SIGKILL): another host becomes SPM, fscks and mounts the master (the dead
// agent's mount was never cleanly unmounted) and sees the volume.
//
// Needs root, lvm2, sanlock, e2fsprogs, qemu-img. Paths from the environment
// (meson): SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM.
//
// Bounded: every wait at most kWaitLimit (meson timeout 400 s). Cleanup in
// destructors, also when an assertion fails, in this order: ext3 mounts
// below the test's directories lazily unmounted (MasterMounts), agents and
// sanlock daemons killed (AgentCluster), dmemu daemons stopped (their
// mappings go), the VG removed and the loops detached (LoopDevices).
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "domains/block/loop_fixture.h"
#include "domains/mount_info.h"
#include "test/agent_harness.h"
#include "test/block_host_util.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using testing::AgentCluster;
using testing::AgentProcess;

constexpr char kPool[] = "7d7d7d7d-0000-4000-8000-000000000001";
constexpr char kBlockSd[] = "7d7d7d7d-0000-4000-8000-0000000000b1";
constexpr char kFileSd[] = "7d7d7d7d-0000-4000-8000-0000000000f1";
constexpr char kImg[] = "7d7d7d7d-0000-4000-8000-0000000000c1";
constexpr char kVol[] = "7d7d7d7d-0000-4000-8000-0000000000c2";
constexpr char kDirPrefix[] = "/var/tmp/sanpool-blkpool";
constexpr uint64_t kDeviceBytes = 6ULL << 30;
constexpr seconds kWaitLimit{120};
constexpr int kHosts = 3;

std::vector<MountEntry> Mounts() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  auto mounts = ParseMountInfo(text.str());
  REQUIRE(mounts.ok());
  return *mounts;
}

// Lazily unmounts every ext3/ext4 mount below kDirPrefix when destroyed
// (the masters of live and killed agents).
struct MasterMounts {
  ~MasterMounts() {
    PosixProcessRunner runner;
    std::ifstream in("/proc/self/mountinfo");
    std::stringstream text;
    text << in.rdbuf();
    auto mounts = ParseMountInfo(text.str());
    if (!mounts.ok()) return;
    for (auto it = mounts->rbegin(); it != mounts->rend(); ++it) {
      if (it->fs_type != "ext3" && it->fs_type != "ext4") continue;
      if (it->mount_point.rfind(kDirPrefix, 0) != 0) continue;
      (void)block::RunTool(runner, {"umount", "-l", it->mount_point});
    }
  }
};

int64_t TaskCode(const json::object& status) {
  const json::value& code = status.at("code");
  return code.is_int64() ? code.as_int64()
                         : std::stoll(std::string(code.as_string()));
}

std::string MasterDir(const AgentCluster& cluster, int host) {
  return cluster.dir() + "/run" + std::to_string(host) + "/master/" +
         kBlockSd + "/master";
}

std::optional<MountEntry> MountAt(const std::string& dir) {
  return FindMount(Mounts(), dir);
}

// Polls Volume.getInfo on `a` until it answers (another host's lvm view
// may lag); the reply or the last error code.
json::value WaitVolume(AgentProcess& a) {
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  agent::RpcReply reply;
  while (std::chrono::steady_clock::now() < deadline) {
    reply = a.Raw("Volume.getInfo", {{"storagedomainID", kBlockSd},
                                     {"imageID", kImg},
                                     {"volumeID", kVol}});
    if (reply.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  INFO(a.LogTail());
  REQUIRE(reply.ok());
  return reply.result;
}

TEST_CASE("pool with a block master: SPM mounts it; failover after kill -9",
          "[block_pool]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  PosixProcessRunner runner;
  block::LoopDevices san(runner);
  san.Create("sanpool-blkpool-san", 2, kDeviceBytes);
  san.set_vg(kBlockSd);
  std::vector<std::unique_ptr<dmemu::Daemon>> dm;
  for (int h = 1; h <= kHosts; ++h) {
    dm.push_back(
        std::make_unique<dmemu::Daemon>(san.dir(), "host" + std::to_string(h)));
  }
  AgentCluster cluster(
      {.prefix = "sanpool-blkpool",
       .host_name_prefix = "sanpool-blkpool-host",
       .hosts = kHosts,
       .dirs = {testing::kFilePoolDir},
       .host_sets = [&dm, &san](int h) {
         return testing::BlockHostSets(*dm.at(h - 1), san.loops());
       },
       .wait_limit = kWaitLimit});
  MasterMounts unmount_masters;  // destroyed first
  AgentProcess& a = cluster.agent(1);

  testing::CreateBlockDomain(a, kBlockSd, san.loops(), "block master");
  a.Call("StorageDomain.create",
         {{"storagedomainID", kFileSd}, {"domainType", 1},
          {"typeArgs", "srv:/pool"}, {"name", "file data"},
          {"domainClass", 1}});
  a.Call("StoragePool.create",
         {{"storagepoolID", kPool}, {"name", "dc-block"},
          {"masterSdUUID", kBlockSd}, {"masterVersion", 1},
          {"domainList", json::array{kBlockSd, kFileSd}}});
  for (int h = 1; h <= kHosts; ++h) {
    cluster.agent(h).Call("StoragePool.connect",
                          {{"storagepoolID", kPool}, {"hostID", h},
                           {"masterSdUUID", kBlockSd}, {"masterVersion", 1}});
  }

  int spm = cluster.WaitForSpm(kPool, {1, 2, 3});
  INFO(cluster.agent(1).LogTail());
  REQUIRE(spm != 0);
  std::this_thread::sleep_for(seconds(3));  // a few contention rounds
  for (int h = 1; h <= kHosts; ++h) {
    CHECK((cluster.agent(h).SpmStatus(kPool) == "SPM") == (h == spm));
  }
  auto mounted = MountAt(MasterDir(cluster, spm));
  REQUIRE(mounted.has_value());
  CHECK(mounted->fs_type == "ext3");
  CHECK(std::filesystem::is_directory(MasterDir(cluster, spm) + "/tasks"));
  CHECK(std::filesystem::is_directory(MasterDir(cluster, spm) + "/vms"));
  json::object info = cluster.agent(spm)
                          .Call("StoragePool.getInfo", {{"storagepoolID", kPool}})
                          .as_object();
  CHECK(info.at("info").at("type") == "ISCSI");
  CHECK(info.at("info").at("spm_id").as_int64() == spm);

  // The file domain joins the pool's active domains too.
  cluster.agent(spm).Call("StorageDomain.activate",
                          {{"storagedomainID", kFileSd},
                           {"storagepoolID", kPool}});

  // A volume made on the SPM (a task in the master's tasks dir) is seen by
  // another host.
  json::value task = cluster.agent(spm).Call(
      "Volume.create",
      {{"storagedomainID", kBlockSd}, {"imageID", kImg}, {"volumeID", kVol},
       {"size", std::to_string(1ULL << 30)}, {"volFormat", 4},
       {"preallocate", 2}, {"diskType", "DATA"}, {"desc", "on the SPM"},
       {"srcImgUUID", ""}, {"srcVolUUID", ""}});
  json::object done = cluster.agent(spm).WaitTask(task);
  INFO(json::serialize(done) << "\n" << cluster.agent(spm).LogTail());
  REQUIRE(TaskCode(done) == 0);
  int other = spm == 1 ? 2 : 1;
  json::value seen = WaitVolume(cluster.agent(other));
  CHECK(seen.at("format") == "COW");

  // kill -9 the SPM: its sanlock daemon frees the SDM lease; one of the
  // others takes the role, fscks and mounts the master.
  cluster.agent(spm).Kill();
  auto killed_at = std::chrono::steady_clock::now();
  std::vector<int> rest;
  for (int h = 1; h <= kHosts; ++h) {
    if (h != spm) rest.push_back(h);
  }
  int next = cluster.WaitForSpm(kPool, rest);
  INFO(cluster.agent(rest[0]).LogTail());
  REQUIRE(next != 0);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  std::printf("new SPM (host %d) %d ms after kill -9 of the SPM agent\n",
              next, static_cast<int>(took.count()));
  auto remounted = MountAt(MasterDir(cluster, next));
  REQUIRE(remounted.has_value());
  CHECK(remounted->fs_type == "ext3");
  CHECK(std::filesystem::is_directory(MasterDir(cluster, next) + "/tasks"));
  json::value again = WaitVolume(cluster.agent(next));
  CHECK(again.at("capacity").as_string() == std::to_string(1ULL << 30));
  json::object after = cluster.agent(next)
                           .Call("StoragePool.getInfo",
                                 {{"storagepoolID", kPool}})
                           .as_object();
  CHECK(after.at("info").at("spm_id").as_int64() == next);
  for (int h : rest) {
    if (h != next) CHECK(cluster.agent(h).SpmStatus(kPool) != "SPM");
  }
}

}  // namespace
}  // namespace sanpool
