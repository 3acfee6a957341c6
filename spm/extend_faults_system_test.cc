// System test (root, suite 'system'): EIO and latency on the mailbox's
// devices, on real block storage. Two loop devices hold a block domain
// (real lvm2); two "hosts" in this process each have their own LVM cache
// and sanpool-dmemu daemon (SANPOOL_DMEMU) and map the domain's inbox and
// outbox LVs through it, as agents do for a block master. Host 1 is the
// SPM, host 2 asks through the mailbox. Faults are injected per host with
// dmemu's fault control on that host's mapping only (the other host's view
// of the same LV stays healthy):
//
//   latency on host 2's inbox and outbox   the request completes;
//   EIO on host 2's inbox writes          nothing reaches the SPM, the
//                                         request waits; cleared: served;
//   EIO on host 2's outbox reads          the SPM extends, host 2 cannot
//                                         see the reply; cleared: done;
//   EIO on the SPM's inbox reads          nothing is served; cleared: done;
//   EIO on the SPM's outbox writes        extended, the reply is retried
//                                         until the device works again.
//
// No agents here: a file master's mailbox (what the agent tests use) is
// not on a dm device, so this is where mailbox I/O meets a failing device.
// Bounded: each wait at most kLimit; the destructors stop the services and
// daemons, remove the VG, detach the loops, whatever happened.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "domains/block/activation.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_volume.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/dm/dm_names.h"
#include "domains/qemu_img.h"
#include "spm/block_extend.h"
#include "spm/extend_service.h"
#include "spm/fake_role.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool::spm {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = mailbox::kMiB;
constexpr uint64_t kDeviceBytes = 6ULL * 1024 * kMiB;
constexpr char kSd[] = "9f9f9f9f-0000-4000-8000-0000000000b1";
constexpr char kImg[] = "9f9f9f9f-0000-4000-8000-0000000000c1";
constexpr char kVol[] = "9f9f9f9f-0000-4000-8000-0000000000c2";
constexpr seconds kLimit{120};
// Long enough for several polls, resends (1 s) and rescans (200 ms).
constexpr milliseconds kStuck{2500};

struct San {
  explicit San(ProcessRunner& runner) : devices(runner) {}
  block::LoopDevices devices;  // destroyed last: VG removed, loops detached
  std::vector<std::unique_ptr<dmemu::Daemon>> daemons;
};

struct Host {
  Host(lvm::Lvm& lvm, const lvm::DeviceList& loops, dmemu::Daemon& d)
      : daemon(d), cache(lvm, {}), activator(cache, d.dm()) {
    cache.SetDevices(loops);
  }
  ~Host() {
    if (service) service->Stop();
  }
  // Faults on this host's mapping of a special LV ("inbox", "outbox").
  void SetFaults(const char* lv, const dm::FaultSpec& faults) {
    Result<std::string> name = dm::LvDeviceName(kSd, lv);
    REQUIRE(name.ok());
    Status s = daemon.dm().SetFaults(*name, faults);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  void ClearFaults() {
    for (const char* lv : {"inbox", "outbox"}) SetFaults(lv, {});
  }

  dmemu::Daemon& daemon;
  lvm::LvmCache cache;
  block::Activator activator;
  FakeSpmRole role;
  std::unique_ptr<block::BlockDomain> domain;
  std::unique_ptr<block::BlockVolumes> volumes;  // SPM only
  std::unique_ptr<BlockExtender> extender;
  std::unique_ptr<BlockRefresher> refresher;
  std::unique_ptr<ExtendService> service;
};

bool Ready(const std::future<ExtendResult>& f) {
  return f.wait_for(seconds(0)) == std::future_status::ready;
}

TEST_CASE("mailbox I/O faults on the hosts' own device mappings",
          "[system]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  PosixProcessRunner runner;
  San san(runner);
  san.devices.Create("sanpool-mbfault", 2, kDeviceBytes);
  san.devices.set_vg(kSd);
  for (const char* name : {"host1", "host2"}) {
    san.daemons.push_back(
        std::make_unique<dmemu::Daemon>(san.devices.dir(), name));
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  SystemClock clock;
  lvm::Lvm lvm(runner, {});
  QemuImg qemu_img(runner);
  ResourceManager manager(clock);
  block::ImageLocks locks(manager, kSd);
  Host h1(lvm, san.devices.loops(), *san.daemons[0]);
  Host h2(lvm, san.devices.loops(), *san.daemons[1]);

  REQUIRE(block::CreateVolumeGroup(h1.cache, kSd, san.devices.loops()).ok());
  auto created = block::BlockDomain::Create(
      {.env = env.get(), .clock = &clock, .lvm = &h1.cache,
       .activator = &h1.activator},
      {.sd_uuid = kSd, .description = "mailbox faults"});
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  h1.domain = *std::move(created);
  h1.volumes = std::make_unique<block::BlockVolumes>(*h1.domain, qemu_img,
                                                     locks, runner);
  REQUIRE(h1.volumes
              ->Create({.img_uuid = kImg,
                        .vol_uuid = kVol,
                        .capacity = 4096 * kMiB,
                        .description = "thin",
                        .initial_size = 64 * kMiB})
              .ok());
  auto opened = block::BlockDomain::Open(
      {.env = env.get(), .clock = &clock, .lvm = &h2.cache,
       .activator = &h2.activator},
      kSd);
  REQUIRE(opened.ok());
  h2.domain = *std::move(opened);

  auto start = [&](Host& h, int host_id, bool spm) {
    h.role.set_spm(spm);
    h.extender = std::make_unique<BlockExtender>(
        [&h](const std::string& want) -> Result<block::BlockVolumes*> {
          if (want != kSd || !h.volumes) return NotFoundError("no such domain");
          return h.volumes.get();
        });
    h.refresher = std::make_unique<BlockRefresher>(h.cache, h.activator);
    h.service = std::make_unique<ExtendService>(
        ExtendServiceDeps{
            .env = env.get(),
            .clock = &clock,
            .role = &h.role,
            .extender = h.extender.get(),
            .refresher = h.refresher.get(),
            .locate = [&h, host_id]() -> Result<MailboxLocation> {
              ASSIGN_OR_RETURN(std::string in, h.domain->SpecialLvPath(
                                                   block::SpecialLv::kInbox));
              ASSIGN_OR_RETURN(std::string out, h.domain->SpecialLvPath(
                                                    block::SpecialLv::kOutbox));
              return MailboxLocation{in, out, host_id};
            }},
        ExtendServiceOptions{.rescan_interval = milliseconds(200),
                             .resend_timeout = seconds(1)});
    REQUIRE(h.service->Start().ok());
  };
  start(h1, 1, true);
  start(h2, 2, false);
  const auto limit = std::chrono::steady_clock::now() + kLimit;
  while (!h1.service->ServingMailbox()) {
    REQUIRE(std::chrono::steady_clock::now() < limit);
    std::this_thread::sleep_for(milliseconds(10));
  }

  uint64_t target = 128 * kMiB;
  auto lv_size = [&] {
    h1.cache.InvalidateLvs(kSd);
    Result<lvm::Lv> lv = h1.cache.GetLv(kSd, kVol);
    REQUIRE(lv.ok());
    return lv->size_bytes;
  };
  // Host 2 asks for the next 128 MiB; returns the pending request.
  auto ask = [&] {
    target += 128 * kMiB;
    return h2.service->Extend({kSd, kImg, kVol, target});
  };
  auto expect_done = [&](std::future<ExtendResult>& f) {
    REQUIRE(f.wait_for(kLimit) == std::future_status::ready);
    ExtendResult r = f.get();
    INFO(r.status.ToString());
    CHECK(r.status.ok());
    CHECK(r.path == ExtendPath::kMailbox);
    CHECK(r.size_bytes == target);
    CHECK(lv_size() == target);
  };

  {
    // Healthy first: host 2's mailbox starts (mapping its inbox/outbox).
    auto f = ask();
    expect_done(f);
  }
  {
    // Slow devices on host 2's side: only slower.
    h2.SetFaults("inbox", {.read_delay_ms = 150, .write_delay_ms = 150});
    h2.SetFaults("outbox", {.read_delay_ms = 150, .write_delay_ms = 150});
    auto f = ask();
    expect_done(f);
    h2.ClearFaults();
  }
  {
    // Host 2 cannot write its inbox: nothing reaches the SPM.
    h2.SetFaults("inbox", {.write_error = true});
    auto f = ask();
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
    CHECK(lv_size() == target - 128 * kMiB);
    h2.ClearFaults();
    expect_done(f);  // the next resend gets through
  }
  {
    // Host 2 cannot read its outbox: extended, but it cannot tell yet.
    h2.SetFaults("outbox", {.read_error = true});
    auto f = ask();
    const auto deadline = std::chrono::steady_clock::now() + kLimit;
    while (lv_size() < target) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(milliseconds(50));
    }
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
    h2.ClearFaults();
    expect_done(f);
  }
  {
    // The SPM cannot read the inbox: nothing is served.
    h1.SetFaults("inbox", {.read_error = true});
    auto f = ask();
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
    CHECK(lv_size() == target - 128 * kMiB);
    h1.ClearFaults();
    expect_done(f);
  }
  {
    // The SPM cannot write the outbox: extended, the reply waits.
    h1.SetFaults("outbox", {.write_error = true});
    auto f = ask();
    const auto deadline = std::chrono::steady_clock::now() + kLimit;
    while (lv_size() < target) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(milliseconds(50));
    }
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
    h1.ClearFaults();
    expect_done(f);
  }

  h2.service->Stop();
  h1.service->Stop();
}

}  // namespace
}  // namespace sanpool::spm
