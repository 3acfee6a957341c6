// Test helpers for the pool and SPM tests: one shared "storage" (a scratch
// repository with one NFS-like mount dir), a FakeClock and a
// FakeSanlockCluster, and PoolHost: one agent on it (its own FakeSanlock,
// DomainRegistry, DomainMonitor-free StoragePool and Spm, both driven by
// Tick() in ThreadMode::kManual).
#ifndef SANPOOL_SPM_POOL_TEST_UTIL_H_
#define SANPOOL_SPM_POOL_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/fake_clock.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "domains/domain_registry.h"
#include "domains/file/file_test_util.h"
#include "domains/qemu_img.h"
#include "lease/fake_sanlock.h"
#include "spm/spm.h"
#include "spm/storage_pool.h"
#include "spm/task_manager.h"

namespace sanpool::spm::testing {

inline constexpr char kPool[] = "5a5a5a5a-0000-4000-8000-000000000001";
inline constexpr char kMaster[] = "5a5a5a5a-0000-4000-8000-0000000000d1";
inline constexpr char kData[] = "5a5a5a5a-0000-4000-8000-0000000000d2";
inline constexpr char kRemote[] = "srv:/exp";

struct World {
  World() : env(NewPosixEnv()), cluster(clock), qemu_img(runner) {
    std::filesystem::create_directories(MountDir());
  }
  std::string Repository() const { return scratch.path() + "/repo"; }
  std::string MountDir() const { return Repository() + "/mnt/srv:_exp"; }
  std::string DomainDir(const std::string& sd) const {
    return MountDir() + "/" + sd;
  }

  file_domain::testing::ScratchDir scratch;
  std::unique_ptr<Env> env;
  FakeClock clock;
  lease::FakeSanlockCluster cluster;
  PosixProcessRunner runner;
  QemuImg qemu_img;
};

struct PoolHost {
  PoolHost(World& w, std::string name, SpmOptions spm_options = {},
           std::string state_file = "")
      : world(w),
        sanlock(w.cluster, name),
        tasks(w.clock, {.threads = 1}),
        registry(DomainRegistryDeps{.env = w.env.get(),
                                    .clock = &w.clock,
                                    .qemu_img = &w.qemu_img,
                                    .lock_manager = &locks,
                                    .is_spm = [this] { return spm.IsSpm(); }},
                 DomainRegistryOptions{.repository = w.Repository(),
                                       .run_dir = w.scratch.path() + "/run-" +
                                                  name}),
        spm(SpmDeps{.sanlock = &sanlock,
                    .clock = &w.clock,
                    .tasks = &tasks,
                    .on_change =
                        [this](const std::string&, const SpmStatus& s) {
                          changes.push_back(s);
                        }},
            WithManual(spm_options)),
        pool(StoragePoolDeps{.env = w.env.get(),
                             .clock = &w.clock,
                             .sanlock = &sanlock,
                             .domains = &registry,
                             .spm = &spm,
                             .reconnect =
                                 [this] {
                                   ++reconnects;
                                   if (reconnect) reconnect();
                                 }},
             StoragePoolOptions{.state_file = std::move(state_file),
                                .io_timeout = lease::kRigIoTimeout,
                                .thread = ThreadMode::kManual}) {}
  ~PoolHost() {
    release_jobs.Wake();
    tasks.Shutdown();
  }

  // Schedules an SPM task whose job sleeps until the host is destroyed or
  // the task is stopped... it only notices its release; returns the id.
  std::string StartBlockingTask() {
    auto id = tasks.Schedule("Volume.create", {"spm"}, [this](JobContext&) {
      world.clock.SleepFor(std::chrono::hours(1), &release_jobs);
      return Status::Ok();
    });
    REQUIRE(id.ok());
    return *id;
  }

  static SpmOptions WithManual(SpmOptions o) {
    o.thread = ThreadMode::kManual;
    o.io_timeout = lease::kRigIoTimeout;
    return o;
  }

  void CreateDomain(const std::string& sd) {
    file_domain::CreateDomainParams p{.sd_uuid = sd,
                                      .type = DomainType::kNfs,
                                      .description = "test",
                                      .remote_path = kRemote};
    REQUIRE(registry.Create(p).ok());
  }
  void Connect(uint64_t host_id, int64_t master_version = 1) {
    Status s = pool.Connect({kPool, host_id, kMaster, master_version});
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  // Starts the joins, lets the fake join delay pass, polls them.
  void Join() {
    pool.Tick();
    world.clock.Advance(world.cluster.join_delay());
    pool.Tick();
  }
  DomainMetadata Master() {
    auto d = file_domain::FileDomain::Open(*world.env, world.clock,
                                           world.MountDir(), kMaster);
    REQUIRE(d.ok());
    auto md = (*d)->ReadMetadata();
    REQUIRE(md.ok());
    return *md;
  }

  World& world;
  Waker release_jobs;  // before `tasks`: jobs sleep on it
  lease::FakeSanlock sanlock;
  TaskManager tasks;
  ResourceManager locks{world.clock};
  DomainRegistry registry;
  std::vector<SpmStatus> changes;  // on_change calls (test thread only)
  // StoragePoolDeps::reconnect: counted, then `reconnect` if set.
  int reconnects = 0;
  std::function<void()> reconnect;
  Spm spm;
  StoragePool pool;
};

}  // namespace sanpool::spm::testing

#endif  // SANPOOL_SPM_POOL_TEST_UTIL_H_
