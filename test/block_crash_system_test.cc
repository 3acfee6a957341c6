// System test: the real sanpool-agent killed at every block volume crash
// point (base/crash_point.h "block.*"), then restarted: recovery at open
// (BlockVolumes::Recover, run by the block registry on the first lookup as
// the writer) must leave each operation whole or absent, on real lvm2 over
// loop devices with a sanpool-dmemu daemon (dm.backend = user) and a
// sanlock daemon (volume leases), as in block_agent_system_test.cc.
//
// Create points before the commit point (the slot write) must be rolled
// back: no LV of the volume, no LV tagged OVIRT_VOL_INITIALIZING, slot 1
// all NUL, the VG's free space as before. The point after the slot write is
// past the commit point: the volume must be complete (LEGAL, in its slot).
// Delete points must be finished: the LV gone (the zeroing one resumed and
// completed in the background), its extents free, its slot cleared. After
// every point a new volume is created in slot 1: the domain works.
//
// Needs root, lvm2, sanlock, qemu-img. Paths from the environment (meson):
// SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM. Bounded (each wait at
// most kWaitLimit, meson timeout 300 s); agents, daemons, the VG and the
// loops are removed by destructors, also when a check fails.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/crash_point.h"
#include "base/process.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "lease/sanlock_daemon.h"
#include "test/agent_harness.h"
#include "test/block_host_util.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using testing::AgentProcess;

constexpr char kSd[] = "7c7c7c7c-0000-4000-8000-0000000000c1";
constexpr char kImg[] = "7c7c7c7c-0000-4000-8000-0000000000c2";
constexpr uint64_t kDeviceBytes = 6ULL << 30;
constexpr uint64_t kMiB = 1 << 20;
// A thin COW volume of 256 MiB: its LV is 256 MiB (two extents), eight
// zeroing steps of 32 MiB.
constexpr uint64_t kCapacity = 256 * kMiB;
constexpr std::chrono::seconds kWaitLimit{60};

std::string VolUuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "7c7c7c7c-0000-4000-8000-%012d", 0x200 + n);
  return buf;
}

int64_t TaskCode(const json::object& status) {
  const json::value& code = status.at("code");
  return code.is_int64() ? code.as_int64()
                         : std::stoll(std::string(code.as_string()));
}

class CrashFixture {
 public:
  CrashFixture() : lvm_(runner_, {}) {
    san_.Create("sanpool-blkcrash", 2, kDeviceBytes);
    san_.set_vg(kSd);
    dmemu_ = std::make_unique<dmemu::Daemon>(san_.dir(), "host");
    sanlock_ = testing::StartSanlockDaemon(san_.dir() + "/sl", "");
  }
  // Agent first, then the daemons; `san_` (declared first) goes last.
  ~CrashFixture() {
    agent_.reset();
    sanlock_.reset();
    dmemu_.reset();
  }

  // A new agent (the previous one stopped first), armed at `point` if set.
  AgentProcess& Start(std::string_view point = {}) {
    agent_.reset();
    std::vector<std::pair<std::string, std::string>> env = {
        {"SANLOCK_RUN_DIR", sanlock_->run_dir()}};
    if (!point.empty()) {
      env.emplace_back(crash_point::kEnvVar, std::string(point));
    }
    std::vector<std::string> sets = testing::BlockHostSets(*dmemu_, san_.loops());
    sets.insert(sets.end(), {"storage.repository=" + san_.dir() + "/repo",
                             "storage.run_dir=" + san_.dir() + "/run",
                             "agent.state_file=" + san_.dir() + "/state"});
    agent_ = std::make_unique<AgentProcess>(testing::AgentProcessOptions{
        .dir = san_.dir(),
        .sets = std::move(sets),
        .env = std::move(env),
        .wait_limit = kWaitLimit,
        .request_timeout = std::chrono::seconds(60),
        .graceful_stop = point.empty()});
    return *agent_;
  }
  AgentProcess& agent() { return *agent_; }

  void CreateDomain() {
    testing::CreateBlockDomain(Start(), kSd, san_.loops(), "block crash test");
  }

  json::object CreateParams(const std::string& vol) const {
    return {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", vol},
            {"size", std::to_string(kCapacity)}, {"volFormat", 4},
            {"preallocate", 2}, {"diskType", "DATA"}, {"desc", "crash"},
            {"srcImgUUID", ""}, {"srcVolUUID", ""}};
  }
  json::object VolumeParams(const std::string& vol) const {
    return {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", vol}};
  }

  // Runs a task verb on the running (unarmed) agent; its status code.
  int64_t RunTask(const std::string& method, json::object params) {
    json::value task = agent().Call(method, std::move(params));
    json::object done = agent().WaitTask(task);
    INFO(method << ": " << json::serialize(done) << "\n" << agent().LogTail());
    return TaskCode(done);
  }

  // Starts an agent armed at `point`, sends `method` and waits until the
  // agent has killed itself there.
  void CallAndCrash(std::string_view point, const std::string& method,
                    json::object params) {
    AgentProcess& a = Start(point);
    // The reply may be lost when the job dies before it is written.
    (void)a.Client().Call(method, json::value(std::move(params)));
    INFO("crash point " << point << "\n" << a.LogTail());
    REQUIRE(a.WaitExit());
    CHECK(a.LogTail().find("crash point " + std::string(point) +
                           " reached") != std::string::npos);
  }

  // The restarted agent opens the domain (recovery runs there).
  void Restart() {
    AgentProcess& a = Start();
    a.Call("StorageDomain.getInfo", {{"storagedomainID", kSd}});
  }

  std::vector<lvm::Lv> Lvs() {
    auto lvs = lvm_.Lvs(san_.loops(), kSd);
    REQUIRE(lvs.ok());
    return *lvs;
  }
  std::optional<lvm::Lv> FindLv(const std::string& name) {
    for (lvm::Lv& lv : Lvs()) {
      if (lv.name == name) return lv;
    }
    return std::nullopt;
  }
  // LVs with a tag starting with `prefix`.
  std::vector<std::string> LvsTagged(std::string_view prefix) {
    std::vector<std::string> out;
    for (const lvm::Lv& lv : Lvs()) {
      for (const std::string& tag : lv.tags) {
        if (tag.starts_with(prefix)) out.push_back(lv.name);
      }
    }
    return out;
  }
  uint64_t VgFree() {
    auto vg = lvm_.GetVg(san_.loops(), kSd);
    REQUIRE(vg.ok());
    return vg->free_bytes;
  }
  // Waits (bounded) until no LV named `name` is left.
  bool WaitLvGone(const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!FindLv(name)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // The first 512 bytes of metadata slot `slot`, read from the PV with
  // O_DIRECT (the metadata LV is linear from its segment's first extent).
  std::string SlotBytes(int slot) {
    std::optional<lvm::Lv> md = FindLv("metadata");
    REQUIRE(md);
    REQUIRE(!md->segments.empty());
    const lvm::Segment& seg = md->segments.front();
    auto pvs = lvm_.Pvs(san_.loops(), {});
    REQUIRE(pvs.ok());
    uint64_t pe_start = 0;
    for (const lvm::Pv& pv : *pvs) {
      if (pv.name == seg.pv_device) pe_start = pv.pe_start_bytes;
    }
    REQUIRE(pe_start > 0);
    const uint64_t offset = pe_start +
                            seg.pv_start_extent * md->extent_size_bytes +
                            kMiB + static_cast<uint64_t>(slot) * 8192;
    int fd = ::open(seg.pv_device.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* buf = nullptr;
    REQUIRE(::posix_memalign(&buf, 4096, 4096) == 0);
    ssize_t n = ::pread(fd, buf, 4096, static_cast<off_t>(offset));
    ::close(fd);
    std::string out(static_cast<const char*>(buf), 512);
    ::free(buf);
    REQUIRE(n == 4096);
    return out;
  }
  bool SlotClear(int slot) {
    return SlotBytes(slot).find_first_not_of('\0') == std::string::npos;
  }

 private:
  PosixProcessRunner runner_;
  block::LoopDevices san_{runner_};
  lvm::Lvm lvm_;
  std::unique_ptr<dmemu::Daemon> dmemu_;
  std::unique_ptr<lease::SanlockDaemon> sanlock_;
  std::unique_ptr<AgentProcess> agent_;
};

// The volume is back to "never created" (slot 1 was the only candidate).
void CheckRolledBack(CrashFixture& f, const std::string& vol,
                     uint64_t free_before) {
  CHECK_FALSE(f.FindLv(vol));
  CHECK(f.LvsTagged("OVIRT_VOL_INITIALIZING").empty());
  CHECK(f.LvsTagged("MD_").empty());
  CHECK(f.SlotClear(1));
  CHECK(f.VgFree() == free_before);
}

// A new volume is made in slot 1 (lease at (100 + 1) x 1 MiB); returns it.
std::string CheckDomainWorks(CrashFixture& f, int n) {
  std::string vol = VolUuid(n);
  REQUIRE(f.RunTask("Volume.create", f.CreateParams(vol)) == 0);
  json::object info =
      f.agent().Call("Volume.getInfo", f.VolumeParams(vol)).as_object();
  CHECK(info.at("status") == "OK");
  CHECK(info.at("lease").at("offset").to_number<uint64_t>() == 101 * kMiB);
  CHECK_FALSE(f.SlotClear(1));
  return vol;
}

TEST_CASE("block volume create and delete survive a crash at every point",
          "[block_crash]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  CrashFixture f;
  f.CreateDomain();
  const uint64_t free_before = f.VgFree();
  std::set<std::string_view> tested;
  int n = 0;

  const std::vector<std::string_view> before_commit = {
      crash_point::kBlockVolumeCreateAfterLvcreate,
      crash_point::kBlockVolumeCreateAfterQemuImg,
      crash_point::kBlockVolumeCreateBeforeTagCommit};
  for (std::string_view point : before_commit) {
    INFO("crash point " << point);
    std::string vol = VolUuid(++n);
    f.CallAndCrash(point, "Volume.create", f.CreateParams(vol));
    f.Restart();
    CheckRolledBack(f, vol, free_before);
    std::string fresh = CheckDomainWorks(f, ++n);
    REQUIRE(f.RunTask("Volume.delete", f.VolumeParams(fresh)) == 0);
    CheckRolledBack(f, fresh, free_before);
    tested.insert(point);
  }

  {
    // Past the commit point: the volume is whole.
    std::string_view point = crash_point::kBlockVolumeCreateAfterSlot;
    INFO("crash point " << point);
    std::string vol = VolUuid(++n);
    f.CallAndCrash(point, "Volume.create", f.CreateParams(vol));
    f.Restart();
    json::object info =
        f.agent().Call("Volume.getInfo", f.VolumeParams(vol)).as_object();
    CHECK(info.at("status") == "OK");
    CHECK(info.at("legality") == "LEGAL");
    CHECK(info.at("voltype") == "LEAF");
    CHECK(f.LvsTagged("OVIRT_VOL_INITIALIZING").empty());
    CHECK_FALSE(f.SlotClear(1));
    REQUIRE(f.RunTask("Volume.delete", f.VolumeParams(vol)) == 0);
    CheckRolledBack(f, vol, free_before);
    tested.insert(point);
  }

  struct DeletePoint {
    std::string_view point;
    bool post_zero;
  };
  const std::vector<DeletePoint> delete_points = {
      {crash_point::kBlockVolumeDeleteAfterRetag, false},
      {crash_point::kBlockVolumeDeleteAfterRetag, true},
      {crash_point::kBlockVolumeDeleteMidZeroing, true},
      {crash_point::kBlockVolumeDeleteBeforeLvremove, false},
      {crash_point::kBlockVolumeDeleteBeforeLvremove, true}};
  f.Start();
  std::string victim = CheckDomainWorks(f, ++n);
  for (const DeletePoint& d : delete_points) {
    INFO("crash point " << d.point << " postZero " << d.post_zero);
    json::object params = f.VolumeParams(victim);
    params["postZero"] = d.post_zero;
    f.CallAndCrash(d.point, "Volume.delete", std::move(params));
    CHECK(f.LvsTagged("IU__remove_me_") == std::vector<std::string>{victim});
    f.Restart();
    CHECK(f.WaitLvGone(victim));
    CHECK(f.LvsTagged("IU__remove_me_").empty());
    CheckRolledBack(f, victim, free_before);
    victim = CheckDomainWorks(f, ++n);
    tested.insert(d.point);
  }
  REQUIRE(f.RunTask("Volume.delete", f.VolumeParams(victim)) == 0);
  CheckRolledBack(f, victim, free_before);

  std::set<std::string_view> declared;
  for (std::string_view point : crash_point::kAllCrashPoints) {
    if (point.starts_with("block.")) declared.insert(point);
  }
  CHECK(tested == declared);
}

}  // namespace
}  // namespace sanpool
