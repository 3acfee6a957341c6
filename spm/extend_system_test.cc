// System test of the extend round trip on real block storage (root, suite
// 'system'): two loop devices over 6 GiB sparse files under /var/tmp hold a
// block domain made with the real lvm2; two "hosts" in this process each
// have their own LVM cache and their own sanpool-dmemu daemon (SANPOOL_DMEMU
// names the binary), and map the domain's inbox/outbox LVs through it. Host
// 1 is the SPM (the batched BlockExtender: lvm's shell); host 2 asks for an extend
// through the mailbox, and must then see the grown LV through its own
// mapping. The destructor stops the services and daemons, removes the VG,
// detaches the loops and deletes the files, whatever happened.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
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
#include "domains/qemu_img.h"
#include "spm/block_extend.h"
#include "spm/extend_service.h"
#include "spm/fake_role.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool::spm {
namespace {

constexpr uint64_t kDeviceBytes = 6ULL * 1024 * mailbox::kMiB;
constexpr uint64_t kMiB = mailbox::kMiB;

std::string NewUuid() {
  static std::mt19937_64 rng(std::random_device{}());
  char buf[37];
  uint64_t a = rng(), b = rng();
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx",
                static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// The loops (VG, files) and the dm daemons. Members are destroyed in
// reverse: the daemons first (SIGTERM: dmemu removes its mappings), then
// `devices` removes the VG and detaches the loops, whatever happened.
struct San {
  explicit San(ProcessRunner& runner) : devices(runner) {}
  block::LoopDevices devices;
  std::vector<std::unique_ptr<dmemu::Daemon>> daemons;
};

// One host: its LVM cache, dm daemon, activator, domain and service.
struct Host {
  Host(lvm::Lvm& lvm, const lvm::DeviceList& loops, dmemu::Daemon& daemon)
      : cache(lvm, {}), activator(cache, daemon.dm()) {
    cache.SetDevices(loops);
  }
  ~Host() {
    if (service) service->Stop();
  }
  lvm::LvmCache cache;
  block::Activator activator;
  FakeSpmRole role;
  std::unique_ptr<block::BlockDomain> domain;
  std::unique_ptr<block::BlockVolumes> volumes;  // SPM only
  std::unique_ptr<BlockExtender> extender;
  std::unique_ptr<BlockRefresher> refresher;
  std::unique_ptr<ExtendService> service;
};

uint64_t DeviceSize(Env& env, const std::string& path) {
  auto file = env.OpenDirect(path, {.block_size = 512});
  REQUIRE(file.ok());
  Result<uint64_t> size = (*file)->Size();
  REQUIRE(size.ok());
  return *size;
}

TEST_CASE("extend round trip through the mailbox on block storage, two hosts",
          "[system]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  PosixProcessRunner runner;
  San san(runner);
  san.devices.Create("sanpool-extend", 2, kDeviceBytes);
  const std::string sd = NewUuid(), img = NewUuid(), vol = NewUuid();
  san.devices.set_vg(sd);
  for (const char* host : {"host1", "host2"}) {
    san.daemons.push_back(
        std::make_unique<dmemu::Daemon>(san.devices.dir(), host));
  }

  std::unique_ptr<Env> env = NewPosixEnv();
  SystemClock clock;
  lvm::Lvm lvm(runner, {});
  QemuImg qemu_img(runner);
  ResourceManager manager(clock);
  block::ImageLocks locks(manager, sd);
  Host h1(lvm, san.devices.loops(), *san.daemons[0]);
  Host h2(lvm, san.devices.loops(), *san.daemons[1]);

  // Host 1 makes the domain and a thin volume (128 MiB LV).
  Result<std::string> vg_uuid =
      block::CreateVolumeGroup(h1.cache, sd, san.devices.loops());
  INFO(vg_uuid.status().ToString());
  REQUIRE(vg_uuid.ok());
  block::BlockDomainDeps deps1{.env = env.get(), .clock = &clock,
                               .lvm = &h1.cache, .activator = &h1.activator};
  auto created = block::BlockDomain::Create(
      deps1, {.sd_uuid = sd, .description = "extend system test"});
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  h1.domain = *std::move(created);
  h1.volumes = std::make_unique<block::BlockVolumes>(*h1.domain, qemu_img,
                                                     locks, runner);
  Status made = h1.volumes->Create({.img_uuid = img,
                                    .vol_uuid = vol,
                                    .capacity = 2048 * kMiB,
                                    .description = "thin",
                                    .initial_size = 64 * kMiB});
  INFO(made.ToString());
  REQUIRE(made.ok());

  // Host 2 opens the domain and maps the volume through its own daemon.
  block::BlockDomainDeps deps2{.env = env.get(), .clock = &clock,
                               .lvm = &h2.cache, .activator = &h2.activator};
  auto opened = block::BlockDomain::Open(deps2, sd);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  h2.domain = *std::move(opened);
  Result<std::string> dev2 =
      h2.activator.Activate(sd, vol, LockMode::kShared);
  REQUIRE(dev2.ok());
  const uint64_t before = DeviceSize(*env, *dev2);
  CHECK(before < 512 * kMiB);

  auto start = [&](Host& h, int host_id, bool spm) {
    h.role.set_spm(spm);
    h.extender = std::make_unique<BlockExtender>(
        [&h, sd](const std::string& want) -> Result<block::BlockVolumes*> {
          if (want != sd || !h.volumes) return NotFoundError("no such domain");
          return h.volumes.get();
        },
        h.cache, h.activator);  // batched, as the agent: one lvm shell per batch
    h.refresher = std::make_unique<BlockRefresher>(h.cache, h.activator);
    ExtendServiceDeps deps{
        .env = env.get(),
        .clock = &clock,
        .role = &h.role,
        .extender = h.extender.get(),
        .refresher = h.refresher.get(),
        .locate = [&h, host_id]() -> Result<MailboxLocation> {
          ASSIGN_OR_RETURN(std::string in,
                           h.domain->SpecialLvPath(block::SpecialLv::kInbox));
          ASSIGN_OR_RETURN(std::string out,
                           h.domain->SpecialLvPath(block::SpecialLv::kOutbox));
          return MailboxLocation{in, out, host_id};
        }};
    h.service = std::make_unique<ExtendService>(
        std::move(deps), ExtendServiceOptions{.resend_timeout =
                                                  std::chrono::seconds(2)});
    REQUIRE(h.service->Start().ok());
  };
  start(h1, 1, true);
  start(h2, 2, false);
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!h1.service->ServingMailbox()) {
    REQUIRE(std::chrono::steady_clock::now() < limit);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // Remote: host 2 -> mailbox -> host 1 lvextend -> reply -> host 2 reload.
  auto remote = h2.service->Extend({sd, img, vol, 512 * kMiB});
  REQUIRE(remote.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult r = remote.get();
  INFO(r.status.ToString());
  REQUIRE(r.status.ok());
  CHECK(r.path == ExtendPath::kMailbox);
  CHECK(r.size_bytes >= 512 * kMiB);
  CHECK(DeviceSize(*env, *dev2) == r.size_bytes);  // host 2's mapping grew

  // Local on the SPM; host 2 reloads what host 1 did on its next request
  // (already big enough: no lvextend, only the refresh).
  auto local = h1.service->Extend({sd, img, vol, 640 * kMiB});
  REQUIRE(local.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult l = local.get();
  INFO(l.status.ToString());
  REQUIRE(l.status.ok());
  CHECK(l.path == ExtendPath::kLocal);
  auto again = h2.service->Extend({sd, img, vol, 600 * kMiB});
  REQUIRE(again.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult a = again.get();
  REQUIRE(a.status.ok());
  CHECK(a.size_bytes == l.size_bytes);
  CHECK(DeviceSize(*env, *dev2) == l.size_bytes);

  // VG full: an error to the remote caller, nothing changed.
  auto huge = h2.service->Extend({sd, img, vol, 64 * 1024 * kMiB});
  REQUIRE(huge.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  CHECK(huge.get().status.code() == Code::kResourceExhausted);

  h2.service->Stop();
  h1.service->Stop();
  CHECK(h2.activator.Deactivate(sd, vol, LockMode::kShared).ok());
}

}  // namespace
}  // namespace sanpool::spm
