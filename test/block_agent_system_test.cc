// System test: block storage domains through the real sanpool-agent
// (dm.backend = user). The test starts a sanpool-dmemu daemon (the agent's
// device mapper), a sanlock daemon (volume leases) and the agent, on two
// 6 GiB sparse files attached to loop devices (lvm.devices), then drives
// the JSON-RPC verbs: LVMVolumeGroup.create, StorageDomain.create (ISCSI),
// getInfo/getStats/validate, Volume.create (thin COW, a task), Image.prepare
// (qemu-io writes through the returned path), Volume.extend (the LV and
// the prepared mapping grow; this host is the SPM of no pool, so the extend
// runs locally), Image.teardown, Volume.delete
// with postZero, bad input (a device outside lvm.devices: 1000; a
// non-canonical UUID: -32602; an unknown domain: 358).
//
// Needs root, lvm2, sanlock, qemu-img/qemu-io. Paths from the environment
// (meson): SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM.
//
// Bounded (every wait at most kWaitLimit, meson timeout 300 s); the agent
// and daemons are killed and reaped (test/agent_harness.h), the VG removed
// and the loops detached (domains/block/loop_fixture.h) in destructors, also
// when an assertion fails.
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "domains/block/loop_fixture.h"
#include "lease/sanlock_daemon.h"
#include "test/agent_harness.h"
#include "test/block_host_util.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using testing::AgentProcess;

constexpr char kSd[] = "7c7c7c7c-0000-4000-8000-0000000000b1";
constexpr char kImg[] = "7c7c7c7c-0000-4000-8000-0000000000b2";
constexpr char kVol[] = "7c7c7c7c-0000-4000-8000-0000000000b3";
constexpr uint64_t kDeviceBytes = 6ULL << 30;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kCapacity = 8ULL << 30;
constexpr seconds kWaitLimit{120};

Result<ProcessResult> RunTool(std::vector<std::string> argv) {
  PosixProcessRunner runner;
  return block::RunTool(runner, std::move(argv));
}

uint64_t ToU64(const json::value& v) {
  if (v.is_string()) return std::stoull(std::string(v.as_string()));
  return v.to_number<uint64_t>();
}

int64_t TaskCode(const json::object& status) {
  const json::value& code = status.at("code");
  return code.is_int64() ? code.as_int64()
                         : std::stoll(std::string(code.as_string()));
}

TEST_CASE("block domain through the agent's verbs", "[block_agent]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  PosixProcessRunner runner;
  block::LoopDevices san(runner);
  san.Create("sanpool-blkagent", 2, kDeviceBytes);
  san.set_vg(kSd);
  // Destroyed in reverse: agent, sanlock, dmemu (which drops its mappings),
  // then `san` removes the VG and the loops.
  auto dmemu = std::make_unique<dmemu::Daemon>(san.dir(), "host");
  std::unique_ptr<lease::SanlockDaemon> sanlock =
      testing::StartSanlockDaemon(san.dir() + "/sl", "");
  std::vector<std::string> sets = testing::BlockHostSets(*dmemu, san.loops());
  sets.insert(sets.end(), {"storage.repository=" + san.dir() + "/repo",
                           "storage.run_dir=" + san.dir() + "/run",
                           "agent.state_file=" + san.dir() + "/state",
                           "monitor.interval_s=1"});
  auto agent = std::make_unique<AgentProcess>(testing::AgentProcessOptions{
      .dir = san.dir(),
      .sets = std::move(sets),
      .env = {{"SANLOCK_RUN_DIR", sanlock->run_dir()}},
      .wait_limit = kWaitLimit,
      .request_timeout = std::chrono::seconds(120),
      .graceful_stop = true});
  AgentProcess& a = *agent;

  // Bad input first.
  CHECK(a.ErrorCode("LVMVolumeGroup.create",
                    {{"name", kSd}, {"devlist", "/dev/nosuchdev"}}) == 1000);
  CHECK(a.ErrorCode("LVMVolumeGroup.create",
                    {{"name", "not-a-uuid"},
                     {"devlist", san.loops()[0]}}) ==
        -32602);
  CHECK(a.ErrorCode("StorageDomain.getInfo",
                    {{"storagedomainID", "../../etc"}}) == -32602);
  CHECK(a.ErrorCode("StorageDomain.getInfo", {{"storagedomainID", kSd}}) ==
        358);

  json::value vg_uuid = a.Call(
      "LVMVolumeGroup.create",
      {{"name", kSd},
       {"devlist", json::array{san.loops()[0], san.loops()[1]}}});
  json::object vg = a.Call("LVMVolumeGroup.getInfo", {{"vgUUID", kSd}})
                        .as_object();
  CHECK(vg.at("uuid") == vg_uuid);
  CHECK(vg.at("pvs").as_array().size() == 2);

  a.Call("StorageDomain.create",
         {{"storagedomainID", kSd}, {"domainType", 3},
          {"typeArgs", vg_uuid}, {"name", "block system test"},
          {"domainClass", 1}});
  json::object info =
      a.Call("StorageDomain.getInfo", {{"storagedomainID", kSd}}).as_object();
  CHECK(info.at("type") == "ISCSI");
  CHECK(info.at("vguuid") == vg_uuid);
  a.Call("StorageDomain.validate", {{"storagedomainID", kSd}});
  json::object stats =
      a.Call("StorageDomain.getStats", {{"storagedomainID", kSd}})
          .as_object();
  uint64_t free_before = std::stoull(std::string(stats.at("diskfree").as_string()));
  CHECK(std::stoull(std::string(stats.at("disktotal").as_string())) >
        10ULL << 30);

  // Monitored through its metadata LV (a 4 KiB read each second).
  CHECK(a.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}) == true);
  {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    json::object status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = a.Call("Host.getStorageRepoStats", json::object())
                   .as_object()
                   .at(kSd)
                   .as_object();
      if (status.at("actual").as_bool()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO(json::serialize(status));
    CHECK(status.at("valid").as_bool());
    CHECK(status.at("code").to_number<int64_t>() == 0);
  }
  CHECK(a.Call("Host.stopMonitoringDomain", {{"sdUUID", kSd}}) == true);

  // A thin COW volume of 8 GiB (its LV starts at one chunk).
  json::value task = a.Call(
      "Volume.create",
      {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", kVol},
       {"size", std::to_string(kCapacity)}, {"volFormat", 4},
       {"preallocate", 2}, {"diskType", "DATA"}, {"desc", "thin"},
       {"srcImgUUID", ""}, {"srcVolUUID", ""}});
  json::object done = a.WaitTask(task);
  INFO(json::serialize(done) << "\n" << a.LogTail());
  REQUIRE(TaskCode(done) == 0);
  CHECK(a.Call("StorageDomain.getImages", {{"storagedomainID", kSd}}) ==
        json::array{kImg});
  json::object vol = a.Call("Volume.getInfo", {{"storagedomainID", kSd},
                                               {"imageID", kImg},
                                               {"volumeID", kVol}})
                         .as_object();
  CHECK(vol.at("format") == "COW");
  CHECK(vol.at("capacity").as_string() == std::to_string(kCapacity));
  uint64_t lv_bytes = std::stoull(std::string(vol.at("apparentsize").as_string()));
  CHECK(lv_bytes < kCapacity);
  CHECK(lv_bytes >= 64 * kMiB);

  // Prepared: qemu-io writes through the path within the LV.
  json::object prepared = a.Call("Image.prepare", {{"storagedomainID", kSd},
                                                   {"imageID", kImg},
                                                   {"volumeID", kVol}})
                              .as_object();
  std::string path(prepared.at("path").as_string());
  CHECK(prepared.at("info").at("type") == "block");
  auto io = RunTool({"qemu-io", "-f", "qcow2", "-c",
                     "write -P 0x5a 0 " + std::to_string(64 * kMiB), path});
  REQUIRE(io.ok());
  INFO(io->stdout_data << io->stderr_data);
  CHECK(io->Succeeded());
  auto check = RunTool({"qemu-io", "-f", "qcow2", "-c",
                        "read -P 0x5a 0 " + std::to_string(kMiB), path});
  REQUIRE(check.ok());
  CHECK(check->Succeeded());
  // Volume.extend grows the LV (and this host's mapping) to 1 GiB more.
  const uint64_t target = lv_bytes + (1ULL << 30);
  json::object extended =
      a.Call("Volume.extend",
             {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", kVol},
              {"newSize", std::to_string(target)}})
          .as_object();
  CHECK(ToU64(extended.at("newSize")) >= target);
  vol = a.Call("Volume.getInfo", {{"storagedomainID", kSd},
                                  {"imageID", kImg},
                                  {"volumeID", kVol}})
            .as_object();
  CHECK(ToU64(vol.at("apparentsize")) >= target);
  // The prepared mapping has the new size: qemu-io reads the written data
  // and writes more.
  auto more = RunTool({"qemu-io", "-f", "qcow2", "-c",
                       "write -P 0x6b " + std::to_string(1ULL << 30) + " " +
                           std::to_string(64 * kMiB),
                       path});
  REQUIRE(more.ok());
  CHECK(more->Succeeded());
  a.Call("Image.teardown", {{"storagedomainID", kSd}, {"imageID", kImg}});
  CHECK_FALSE(std::filesystem::exists(path));

  // Delete with zeroing: the extents come back.
  task = a.Call("Volume.delete", {{"storagedomainID", kSd},
                                  {"imageID", kImg},
                                  {"volumeID", kVol},
                                  {"postZero", true}});
  done = a.WaitTask(task);
  INFO(json::serialize(done));
  CHECK(TaskCode(done) == 0);
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  uint64_t free_after = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    stats = a.Call("StorageDomain.getStats", {{"storagedomainID", kSd}})
                .as_object();
    free_after = std::stoull(std::string(stats.at("diskfree").as_string()));
    if (free_after == free_before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(free_after == free_before);
  CHECK(a.Call("StorageDomain.getImages", {{"storagedomainID", kSd}}) ==
        json::array{});
  // Wrong device on extend.
  CHECK(a.ErrorCode("StorageDomain.extend",
                    {{"storagedomainID", kSd}, {"devlist", "/dev/sdzz"}}) ==
        1000);

  agent.reset();
  sanlock.reset();
  dmemu.reset();
}

}  // namespace
}  // namespace sanpool
