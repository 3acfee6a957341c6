// Test-only: the two-host extend rig of the spm/ extend system tests (root,
// suite 'system'). Two loop devices over sparse files under /var/tmp hold a
// block domain made with the real lvm2; two "hosts" in this process each
// have their own LVM cache, their own sanpool-dmemu daemon (SANPOOL_DMEMU
// names the binary), an Activator on it, a FakeSpmRole and an
// ExtendService that maps the domain's inbox/outbox LVs through that daemon.
// Host 1 is the SPM (it made the domain and owns the BlockVolumes), host 2
// only opened the domain and asks through the mailbox.
//
//   ExtendRig rig("sanpool-extend", sd_uuid);  // loops + daemons
//   rig.CreateDomain("my test");               // VG + domain on host 1
//   rig.CreateThinVolume(img, vol, 2048 * kMiB);
//   rig.OpenDomain();                          // host 2
//   rig.StartServices(ExtenderKind::kBatched, {.resend_timeout = ...},
//                     std::chrono::seconds(30));
//   rig.host2().service->Extend({sd, img, vol, 512 * kMiB});
//
// Every step fails the running Catch2 test case on error (REQUIREs), so
// build the rig inside a test case, after checking for root. The
// destructor undoes everything, whatever happened and in this order: the
// services stop (host 2 then host 1), the daemons stop (SIGTERM: dmemu
// removes its mappings), the VG is removed, the loops are detached and
// their files deleted.
//
// Thread-safety: not thread-safe; one owner (the test case's thread). The
// services run their own threads over the hosts' members.
#ifndef SANPOOL_SPM_EXTEND_RIG_FIXTURE_H_
#define SANPOOL_SPM_EXTEND_RIG_FIXTURE_H_

#include <cstdint>
#include <memory>
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
#include "domains/dm/dmemu_protocol.h"
#include "domains/qemu_img.h"
#include "spm/block_extend.h"
#include "spm/extend_service.h"
#include "spm/fake_role.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool::spm {

// Which BlockExtender the SPM runs.
enum class ExtenderKind {
  kPerVolume,  // one lvextend per volume
  kBatched,    // as the agent: one lvm shell per batch
};

// One host: its LVM cache, dm daemon, activator, role, domain and service.
// Members are public: the tests drive them directly.
struct ExtendRigHost {
  // `lvm` and `daemon` must outlive the host; `loops` are the PVs the cache
  // scans; `sd_uuid` names the domain (VG) SetFaults addresses.
  ExtendRigHost(lvm::Lvm& lvm, const lvm::DeviceList& loops,
                dmemu::Daemon& daemon, std::string sd_uuid);
  // Stops the service if it was started.
  ~ExtendRigHost();
  ExtendRigHost(const ExtendRigHost&) = delete;
  ExtendRigHost& operator=(const ExtendRigHost&) = delete;

  // Faults on this host's mapping of a special LV of the domain ("inbox",
  // "outbox") only; the other host's view of the LV stays healthy. Fails
  // the test if the daemon refuses.
  void SetFaults(const char* lv, const dm::FaultSpec& faults);
  // No faults on this host's inbox and outbox mappings.
  void ClearFaults();

  const std::string sd_uuid;
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

class ExtendRig {
 public:
  // Two loop devices of `device_bytes` (sparse) under /var/tmp/<prefix>-*,
  // the VG `sd_uuid` registered for removal, the daemons "host1" and
  // "host2" started, the hosts built (nothing on storage yet).
  ExtendRig(const std::string& prefix, const std::string& sd_uuid,
            uint64_t device_bytes = kDefaultDeviceBytes);
  ~ExtendRig() = default;
  ExtendRig(const ExtendRig&) = delete;
  ExtendRig& operator=(const ExtendRig&) = delete;

  static constexpr uint64_t kDefaultDeviceBytes = 6ULL << 30;

  // Host 1 makes the VG over both loops and the block domain in it, and
  // its BlockVolumes (the SPM's). Call once, first.
  void CreateDomain(const std::string& description);
  // Host 1 creates a thin volume of `capacity` bytes (a 64 MiB LV).
  // REQUIRES: CreateDomain() was called.
  void CreateThinVolume(const std::string& img, const std::string& vol,
                        int64_t capacity);
  // Host 2 opens the domain. REQUIRES: CreateDomain() was called.
  void OpenDomain();
  // Starts the extend services: host 1 (id 1) as SPM running a `kind`
  // extender, host 2 (id 2) not SPM, both with `options`; then waits, at
  // most `limit`, until host 1 serves the mailbox. Blocks.
  // REQUIRES: OpenDomain() was called.
  void StartServices(ExtenderKind kind, const ExtendServiceOptions& options,
                     Duration limit);

  ExtendRigHost& host1() { return *host1_; }
  ExtendRigHost& host2() { return *host2_; }
  Env& env() { return *env_; }
  ProcessRunner& runner() { return runner_; }

 private:
  void StartService(ExtendRigHost& host, int host_id, ExtenderKind kind,
                    const ExtendServiceOptions& options);

  // Declaration order is the teardown order, reversed (see the header
  // comment): devices outlive the daemons, which outlive the hosts.
  const std::string sd_uuid_;
  PosixProcessRunner runner_;
  block::LoopDevices devices_;
  std::vector<std::unique_ptr<dmemu::Daemon>> daemons_;
  std::unique_ptr<Env> env_;
  SystemClock clock_;
  lvm::Lvm lvm_;
  QemuImg qemu_img_;
  ResourceManager manager_;
  block::ImageLocks locks_;
  std::unique_ptr<ExtendRigHost> host1_;  // SPM
  std::unique_ptr<ExtendRigHost> host2_;  // destroyed first
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_EXTEND_RIG_FIXTURE_H_
