// Spm and StoragePool on FakeSanlock + FakeClock: create/connect/spmStart,
// contention, prevLver, lease loss, failover, restore from local state.
#include "spm/spm.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "spm/pool_errors.h"
#include "spm/pool_test_util.h"

namespace sanpool::spm {
namespace {

using testing::kData;
using testing::kMaster;
using testing::kPool;
using testing::PoolHost;
using testing::World;

// A pool over kMaster (+ kData attached) created by `h`.
void CreatePool(PoolHost& h, bool with_data = false) {
  h.CreateDomain(kMaster);
  std::vector<std::string> domains = {kMaster};
  if (with_data) {
    h.CreateDomain(kData);
    domains.push_back(kData);
  }
  Status s = h.pool.Create({.pool_uuid = kPool,
                            .name = "dc1",
                            .master_sd = kMaster,
                            .master_version = 1,
                            .domains = domains});
  INFO(s.ToString());
  REQUIRE(s.ok());
}

// Ticks both hosts' SPMs with small clock steps until one is SPM (bounded).
void TickUntilSpm(World& w, std::vector<PoolHost*> hosts) {
  for (int i = 0; i < 100; ++i) {
    for (PoolHost* h : hosts) {
      h->spm.Tick();
      if (h->spm.HoldsRole()) return;
    }
    w.clock.Advance(std::chrono::milliseconds(100));
  }
}

TEST_CASE("create writes pool metadata and lease areas; connect binds") {
  World w;
  PoolHost h(w, "a");
  CreatePool(h, /*with_data=*/true);
  DomainMetadata md = h.Master();
  CHECK(md.role == DomainRole::kMaster);
  REQUIRE(md.pool.has_value());
  CHECK(md.pool->description == "dc1");
  CHECK(md.pool->spm_id == -1);
  CHECK(md.pool->master_version == 1);
  CHECK(md.pool->domains ==
        std::vector<std::pair<std::string, std::string>>{
            {kMaster, "Active"}, {kData, "Attached"}});
  CHECK(h.sanlock.CallCount(lease::SanlockOp::kWriteLockspace) == 2);
  CHECK(h.sanlock.CallCount(lease::SanlockOp::kWriteResource) == 2);

  SECTION("a domain of a pool cannot join another") {
    Status s = h.pool.Create({.pool_uuid = "5a5a5a5a-0000-4000-8000-00000000000f",
                              .name = "x", .master_sd = kData});
    CHECK(s.storage_code() == pool_code::kStorageDomainAlreadyAttached);
  }
  SECTION("wrong master version is refused") {
    Status s = h.pool.Connect({kPool, 1, kMaster, 7});
    CHECK(s.storage_code() == pool_code::kStoragePoolWrongMaster);
    CHECK(!h.pool.connected_pool().has_value());
  }
  SECTION("a regular domain is not a master") {
    Status s = h.pool.Connect({kPool, 1, kData, 1});
    CHECK(s.storage_code() == pool_code::kStoragePoolWrongMaster);
  }
  SECTION("connected, not SPM: writes refused with 654") {
    CHECK(h.spm.RequireSpm().ok());  // no pool: the standalone rule
    h.Connect(1);
    CHECK(h.spm.RequireSpm().storage_code() == 654);
    CHECK(h.pool.Connect({kPool, 1, kMaster, 1}).ok());  // idempotent
    CHECK(h.pool.Connect({"5a5a5a5a-0000-4000-8000-00000000000f", 1, kMaster,
                          1})
              .storage_code() == pool_code::kCannotConnectMultiplePools);
  }
}

TEST_CASE("spmStart needs the joined lockspace, then holds the SDM lease") {
  World w;
  PoolHost h(w, "a", {.auto_contend = false});
  CreatePool(h);
  h.Connect(1);
  auto early = h.spm.Start({});
  REQUIRE(!early.ok());
  CHECK(early.status().storage_code() == pool_code::kAcquireHostIdFailure);
  CHECK(h.spm.CachedStatus().state == SpmState::kFree);

  h.Join();
  auto started = h.spm.Start({});
  REQUIRE(started.ok());
  CHECK(started->state == SpmState::kSpm);
  CHECK(started->lver == 1);
  CHECK(started->spm_id == 1);
  CHECK(h.spm.RequireSpm().ok());
  DomainMetadata md = h.Master();
  CHECK(md.pool->spm_id == 1);
  CHECK(md.pool->spm_lver == 1);
  CHECK(std::filesystem::is_directory(w.DomainDir(kMaster) + "/master/tasks"));
  CHECK(std::filesystem::is_directory(w.DomainDir(kMaster) + "/master/vms"));
  REQUIRE(h.changes.size() >= 2);
  CHECK(h.changes.front().state == SpmState::kContend);
  CHECK(h.changes.back().state == SpmState::kSpm);
  CHECK(h.spm.Start({})->state == SpmState::kSpm);  // idempotent

  SECTION("getInfo reports the pool in oVirt's shape") {
    auto info = h.pool.GetInfo(kPool);
    REQUIRE(info.ok());
    CHECK(info->name == "dc1");
    CHECK(info->master_uuid == kMaster);
    CHECK(info->spm_id == 1);
    CHECK(info->lver == 1);
    CHECK(info->type == "NFS");
    CHECK(info->dominfo.at(kMaster).status == "Active");
  }
  SECTION("disconnect is refused while SPM, spmStop clears POOL_SPM_ID") {
    CHECK(h.pool.Disconnect(kPool, StopMode::kNormal).storage_code() ==
          pool_code::kStoragePoolActionError);
    REQUIRE(h.spm.Stop(StopMode::kNormal).ok());
    CHECK(h.spm.RequireSpm().storage_code() == 654);
    CHECK(h.Master().pool->spm_id == -1);
    auto st = h.spm.GetStatus();
    REQUIRE(st.ok());
    CHECK(st->state == SpmState::kFree);
    CHECK(st->spm_id == -1);
    CHECK(h.pool.Disconnect(kPool, StopMode::kNormal).ok());
    CHECK(h.spm.RequireSpm().ok());  // no pool any more
  }
  SECTION("spmStop refuses while SPM tasks run, unless forced") {
    std::string id = h.StartBlockingTask();
    CHECK(h.spm.Stop(StopMode::kNormal).storage_code() ==
          pool_code::kTaskInProgress);
    CHECK(h.spm.HoldsRole());
    CHECK(h.spm.Stop(StopMode::kForce).ok());
    CHECK(h.tasks.Get(id)->stop_requested);
  }
}

TEST_CASE("two hosts contend: exactly one becomes SPM") {
  World w;
  PoolHost a(w, "a", {.seed = 1});
  PoolHost b(w, "b", {.seed = 2});
  CreatePool(a);
  a.Connect(1);
  b.Connect(2);
  a.Join();
  b.Join();

  SECTION("automatically") {
    TickUntilSpm(w, {&a, &b});
    for (int i = 0; i < 20; ++i) {  // and it stays that way
      a.spm.Tick();
      b.spm.Tick();
      w.clock.Advance(std::chrono::milliseconds(500));
    }
    REQUIRE(a.spm.HoldsRole() != b.spm.HoldsRole());
    PoolHost& winner = a.spm.HoldsRole() ? a : b;
    PoolHost& loser = a.spm.HoldsRole() ? b : a;
    int64_t id = winner.spm.CachedStatus().spm_id;
    CHECK(winner.Master().pool->spm_id == id);
    CHECK(loser.spm.RequireSpm().storage_code() == 654);
    auto seen = loser.spm.GetStatus();
    REQUIRE(seen.ok());
    CHECK(seen->spm_id == id);
    CHECK(seen->state == SpmState::kFree);
  }
  SECTION("a lease held by a live SPM is only probed, and stays") {
    REQUIRE(a.spm.Start({}).ok());
    const int before = b.sanlock.CallCount(lease::SanlockOp::kAcquire);
    for (int i = 0; i < 50; ++i) {  // 25 s: probes at 10 s and 20 s
      a.spm.Tick();
      b.spm.Tick();
      w.clock.Advance(std::chrono::milliseconds(500));
    }
    CHECK(b.sanlock.CallCount(lease::SanlockOp::kAcquire) - before == 2);
    CHECK(a.spm.HoldsRole());
    CHECK_FALSE(b.spm.HoldsRole());
    auto seen = b.spm.GetStatus();
    REQUIRE(seen.ok());
    CHECK(seen->spm_id == 1);
  }
  SECTION("explicit spmStart on both: one wins, the other gets 651") {
    auto ra = a.spm.Start({});
    auto rb = b.spm.Start({});
    CHECK(ra.ok());
    REQUIRE(!rb.ok());
    CHECK(rb.status().storage_code() == 651);
    CHECK(!b.spm.HoldsRole());
  }
}

TEST_CASE("spmStart with a stale prevLver or prevID is refused") {
  World w;
  PoolHost a(w, "a", {.auto_contend = false});
  PoolHost b(w, "b", {.auto_contend = false});
  CreatePool(a);
  a.Connect(1);
  b.Connect(2);
  a.Join();
  b.Join();
  REQUIRE(a.spm.Start({})->lver == 1);
  REQUIRE(a.spm.Stop(StopMode::kNormal).ok());

  auto stale = b.spm.Start({.prev_id = -1, .prev_lver = 0});
  REQUIRE(!stale.ok());
  CHECK(stale.status().storage_code() == pool_code::kSpmParamsMismatch);
  CHECK(!b.spm.HoldsRole());
  auto fresh = b.spm.Start({.prev_id = -1, .prev_lver = 1});
  REQUIRE(fresh.ok());
  CHECK(fresh->lver == 2);
  CHECK(b.Master().pool->spm_lver == 2);
  CHECK(b.Master().pool->spm_id == 2);

  auto other = a.spm.Start({.prev_id = 3, .prev_lver = -1});
  REQUIRE(!other.ok());
  CHECK(other.status().storage_code() == pool_code::kSpmParamsMismatch);
}

TEST_CASE("lease loss: the role goes first and nothing is written after") {
  World w;
  PoolHost a(w, "a", {.auto_contend = false});
  CreatePool(a);
  a.Connect(1);
  a.Join();
  REQUIRE(a.spm.Start({}).ok());
  std::string id = a.StartBlockingTask();

  SECTION("SDM released behind the agent's back") {
    a.sanlock.LoseLease(kMaster, "SDM");
  }
  SECTION("master lockspace fails") { a.sanlock.FailLockspace(kMaster); }
  SECTION("inquiry keeps failing") {
    a.sanlock.InjectError(lease::SanlockOp::kInquire, -EBUSY, 3);
    a.spm.Tick();
    a.spm.Tick();
    CHECK(a.spm.HoldsRole());  // tolerated up to 3 in a row
  }
  CHECK(a.spm.RequireSpm().ok());  // not noticed before the watchdog runs
  a.spm.Tick();
  CHECK(!a.spm.HoldsRole());
  CHECK(a.spm.RequireSpm().storage_code() == 654);
  CHECK(a.spm.UpdatePoolMetadata([](PoolMetadata& md) {
               md.description = "written";
               return Status::Ok();
             }).storage_code() == 654);
  CHECK(a.Master().pool->description == "dc1");
  CHECK(a.Master().pool->spm_id == 1);  // no write as a non-SPM
  CHECK(a.tasks.Get(id)->stop_requested);
  CHECK(a.changes.back().state == SpmState::kFree);
}

TEST_CASE("failover: the SPM host disconnects, another takes over") {
  World w;
  PoolHost a(w, "a", {.seed = 3});
  PoolHost b(w, "b", {.seed = 4});
  CreatePool(a);
  a.Connect(1);
  a.Join();
  TickUntilSpm(w, {&a});
  REQUIRE(a.spm.HoldsRole());
  b.Connect(2);
  b.Join();
  for (int i = 0; i < 10; ++i) {
    b.spm.Tick();
    w.clock.Advance(std::chrono::milliseconds(300));
  }
  CHECK(!b.spm.HoldsRole());
  CHECK(b.spm.CachedStatus().spm_id == 1);

  REQUIRE(a.pool.Disconnect(kPool, StopMode::kForce).ok());
  CHECK(!a.spm.HoldsRole());
  TickUntilSpm(w, {&b});
  REQUIRE(b.spm.HoldsRole());
  CHECK(b.spm.CachedStatus().lver == 2);
  CHECK(b.Master().pool->spm_id == 2);
  CHECK(b.changes.back().state == SpmState::kSpm);
}

TEST_CASE("failover: the SPM agent process dies") {
  World w;
  auto a = std::make_unique<PoolHost>(w, "a", SpmOptions{.seed = 5});
  PoolHost b(w, "b", {.seed = 6});
  CreatePool(*a);
  a->Connect(1);
  b.Connect(2);
  a->Join();
  b.Join();
  TickUntilSpm(w, {a.get()});
  REQUIRE(a->spm.HoldsRole());
  // The fake's destructor is the process exit: its leases are released.
  a.reset();
  TickUntilSpm(w, {&b});
  CHECK(b.spm.HoldsRole());
}

TEST_CASE("a restarted agent restores its membership and contends") {
  World w;
  std::string state = w.scratch.path() + "/state/pool.state";
  auto a = std::make_unique<PoolHost>(w, "a", SpmOptions{.seed = 7}, state);
  CreatePool(*a);
  a->Connect(4);
  a->Join();
  REQUIRE(std::filesystem::exists(state));
  a.reset();

  PoolHost again(w, "a", {.seed = 8}, state);
  CHECK(!again.pool.connected_pool().has_value());
  REQUIRE(again.pool.Restore().ok());
  CHECK(again.pool.connected_pool() == std::optional<std::string>(kPool));
  again.Join();
  TickUntilSpm(w, {&again});
  REQUIRE(again.spm.HoldsRole());
  CHECK(again.spm.CachedStatus().spm_id == 4);

  REQUIRE(again.pool.Disconnect(kPool, StopMode::kForce).ok());
  CHECK(!std::filesystem::exists(state));
}

TEST_CASE("a membership that cannot be restored yet blocks writes, retries") {
  World w;
  std::string state = w.scratch.path() + "/pool.state";
  {
    PoolHost a(w, "a", {.seed = 10}, state);
    CreatePool(a);
    a.Connect(2);
  }
  std::string moved = w.scratch.path() + "/away";
  std::filesystem::rename(w.DomainDir(kMaster), moved);  // storage not back

  PoolHost again(w, "a", {.seed = 11}, state);
  CHECK(!again.pool.Restore().ok());
  CHECK(!again.pool.connected_pool().has_value());
  CHECK(again.spm.RequireSpm().storage_code() == 654);  // not standalone

  CHECK(again.reconnects == 1);  // before the first attempt
  // The storage comes back through the reconnect hook (the agent: the
  // saved storage connections), called before each retry.
  again.reconnect = [&] { std::filesystem::rename(moved, w.DomainDir(kMaster)); };
  again.pool.Tick();  // too early for a retry
  CHECK(again.reconnects == 1);
  CHECK(!again.pool.connected_pool().has_value());
  w.clock.Advance(std::chrono::seconds(10));
  again.pool.Tick();
  CHECK(again.reconnects == 2);
  CHECK(again.pool.connected_pool() == std::optional<std::string>(kPool));
  again.reconnect = nullptr;
  again.pool.Tick();
  w.clock.Advance(std::chrono::seconds(10));
  again.pool.Tick();
  CHECK(again.reconnects == 2);  // restored: no more reconnects

  SECTION("disconnect forgets a pending membership") {
    std::filesystem::rename(w.DomainDir(kMaster), moved);
    PoolHost third(w, "a", {.seed = 12}, state);
    CHECK(!third.pool.Restore().ok());
    REQUIRE(third.pool.Disconnect(kPool, StopMode::kNormal).ok());
    CHECK(third.spm.RequireSpm().ok());
    CHECK(!std::filesystem::exists(state));
    std::filesystem::rename(moved, w.DomainDir(kMaster));
  }
}

TEST_CASE("domain verbs: attach, activate, deactivate, detach as SPM") {
  World w;
  PoolHost a(w, "a", {.auto_contend = false});
  CreatePool(a);
  a.CreateDomain(kData);
  a.Connect(1);
  CHECK(a.pool.AttachDomain(kPool, kData).storage_code() == 654);
  a.Join();
  REQUIRE(a.spm.Start({}).ok());

  REQUIRE(a.pool.AttachDomain(kPool, kData).ok());
  CHECK(a.pool.AttachDomain(kPool, kData).storage_code() ==
        pool_code::kStorageDomainAlreadyAttached);
  CHECK(DomainStatusIn(*a.Master().pool, kData) == PoolDomainStatus::kAttached);
  REQUIRE(a.pool.ActivateDomain(kPool, kData).ok());
  CHECK(DomainStatusIn(*a.Master().pool, kData) == PoolDomainStatus::kActive);
  CHECK(!a.pool.DetachDomain(kPool, kData).ok());  // active
  CHECK(!a.pool.DeactivateDomain(kPool, kMaster).ok());
  REQUIRE(a.pool.DeactivateDomain(kPool, kData).ok());
  REQUIRE(a.pool.DetachDomain(kPool, kData).ok());
  CHECK(!DomainStatusIn(*a.Master().pool, kData).has_value());
  auto data = file_domain::FileDomain::Open(*w.env, w.clock, w.MountDir(),
                                            kData);
  REQUIRE(data.ok());
  CHECK((*data)->ReadMetadata()->pool_uuids.empty());
  CHECK(a.pool.ActivateDomain(kPool, kData).storage_code() ==
        pool_code::kStorageDomainNotInPool);
}

}  // namespace
}  // namespace sanpool::spm

namespace sanpool::spm {
namespace {

// The background thread (ThreadMode::kRun) on the FakeClock: it contends on
// its own once the lockspace is joined.
TEST_CASE("the contender thread takes a free lease by itself") {
  World w;
  SpmOptions options{.seed = 9, .thread = ThreadMode::kRun};
  PoolHost a(w, "a");  // manual: creates the pool
  CreatePool(a);
  lease::FakeSanlock sanlock(w.cluster, "t");
  Spm spm({.sanlock = &sanlock, .clock = &w.clock}, [&] {
    options.io_timeout = lease::kRigIoTimeout;
    return options;
  }());
  StoragePool pool({.env = w.env.get(), .clock = &w.clock,
                    .sanlock = &sanlock, .domains = &a.registry, .spm = &spm},
                   {.thread = ThreadMode::kManual});
  REQUIRE(pool.Connect({kPool, 5, kMaster, 1}).ok());
  pool.Tick();
  w.clock.Advance(w.cluster.join_delay());
  pool.Tick();
  for (int i = 0; i < 50 && !spm.HoldsRole(); ++i) {
    uint64_t ticks = spm.ticks();
    w.clock.WaitForSleepers(1);
    w.clock.Advance(std::chrono::seconds(1));
    while (spm.ticks() == ticks) std::this_thread::yield();
  }
  CHECK(spm.HoldsRole());
  CHECK(spm.CachedStatus().spm_id == 5);
}

}  // namespace
}  // namespace sanpool::spm
