#include "domains/block/lvm_cache.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <thread>
#include <vector>

#include "base/fake_process.h"
#include "domains/block/lvm_cache_test_util.h"
#include "domains/block/lvm_testdata.h"

namespace sanpool::lvm {
namespace {

using Response = FakeProcessRunner::Response;
constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;

ProcessResult Ok(std::string_view out = "") {
  ProcessResult r;
  r.exit_code = 0;
  r.stdout_data = std::string(out);
  return r;
}

class CacheFixture : public testing::LvmCacheFixture {
 protected:
  explicit CacheFixture(int slots = 10)
      : LvmCacheFixture({.max_concurrent_commands = slots}) {}

  void ScriptChanges() {
    for (const char* cmd : {"lvextend", "lvcreate", "lvchange", "vgchange",
                            "lvremove", "lvrename", "lvreduce"}) {
      runner_.Expect({"lvm", cmd}, {}, kPrefix);
    }
  }
};

TEST_CASE_METHOD(CacheFixture, "reads hit the cache until a change") {
  ScriptReports();
  ScriptChanges();
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());
  REQUIRE(cache_.GetLv("h4test", "vol2").ok());  // Loaded by the same lvs.
  REQUIRE(cache_.GetVg("h4test").ok());
  REQUIRE(cache_.GetVg("h4test").ok());
  CHECK(Runs("lvs") == 1);
  CHECK(Runs("vgs") == 1);
  CHECK(cache_.Stats().hits == 2);

  REQUIRE(cache_.LvExtend("h4test", "vol1", LvSize::MiB(4096)).ok());
  REQUIRE(cache_.GetLv("h4test", "vol2").ok());  // Untouched LV: hit.
  CHECK(Runs("lvs") == 1);
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());  // Extended LV: reload.
  CHECK(Runs("lvs") == 2);
  REQUIRE(cache_.GetVg("h4test").ok());  // Free extents changed: reload.
  CHECK(Runs("vgs") == 2);
}

TEST_CASE_METHOD(CacheFixture, "tag changes invalidate only their object") {
  ScriptReports();
  ScriptChanges();
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  REQUIRE(cache_.GetVg("h4test").ok());
  REQUIRE(cache_.LvChangeTags("h4test", "vol2", {.add = {"x"}}).ok());
  REQUIRE(cache_.GetVg("h4test").ok());
  CHECK(Runs("vgs") == 1);
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());
  CHECK(Runs("lvs") == 1);
  REQUIRE(cache_.GetAllLvs("h4test").ok());  // vol2 is stale.
  CHECK(Runs("lvs") == 2);

  REQUIRE(cache_.VgChangeTags("h4test", {.add = {"MDT_X=1"}}).ok());
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  CHECK(Runs("lvs") == 2);
  REQUIRE(cache_.GetVg("h4test").ok());
  CHECK(Runs("vgs") == 2);
}

TEST_CASE_METHOD(CacheFixture, "create, remove and rename invalidate the list") {
  ScriptReports();
  ScriptChanges();
  std::vector<Lv> all = cache_.GetAllLvs("h4test").value();
  CHECK(all.size() == 3);
  CHECK(all[0].name == "metadata");
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  CHECK(Runs("lvs") == 1);
  REQUIRE(cache_.LvCreate({.vg = "h4test", .name = "new",
                           .size = LvSize::MiB(128)})
              .ok());
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  CHECK(Runs("lvs") == 2);
  REQUIRE(cache_.LvRemove("h4test", {"vol2"}).ok());
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  CHECK(Runs("lvs") == 3);
  REQUIRE(cache_.LvRename("h4test", "vol1", "vol9").ok());
  REQUIRE(cache_.GetAllLvs("h4test").ok());
  CHECK(Runs("lvs") == 4);
}

TEST_CASE_METHOD(CacheFixture, "a failed change still invalidates") {
  ScriptReports();
  runner_.Expect({"lvm", "lvextend"},
                 {.exit_code = 5,
                  .stderr_data = std::string(testdata::kStderrExtendVgFull)},
                 kPrefix);
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());
  Status s = cache_.LvExtend("h4test", "vol1", LvSize::MiB(1 << 20));
  CHECK(s.code() == Code::kResourceExhausted);
  CHECK(s.storage_code() == 504);
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());
  CHECK(Runs("lvs") == 2);
}

TEST_CASE_METHOD(CacheFixture, "an extend that is already done succeeds") {
  ScriptReports();
  runner_.Expect({"lvm", "lvextend"},
                 {.exit_code = 5,
                  .stderr_data = std::string(testdata::kStderrNotLarger)},
                 kPrefix);
  // vol1 has 16 extents (2 GiB).
  CHECK(cache_.LvExtend("h4test", "vol1", LvSize::Extents(16)).ok());
  CHECK(cache_.LvExtend("h4test", "vol1", LvSize::MiB(1024)).ok());
  Status s = cache_.LvExtend("h4test", "vol1", LvSize::Extents(17));
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.storage_code() == lvm_code::kLogicalVolumeExtendError);
}

TEST_CASE_METHOD(CacheFixture, "missing objects are errors and not cached") {
  ScriptReports();
  CHECK(cache_.GetLv("h4test", "nope").status().code() == Code::kNotFound);
  CHECK(cache_.GetLv("h4test", "nope").status().storage_code() == 610);
  CHECK(Runs("lvs") == 2);
}

TEST_CASE_METHOD(CacheFixture, "linear table through the cache") {
  ScriptReports();
  Result<std::vector<LinearTarget>> table =
      cache_.GetLinearTable("h4test", "vol1");
  REQUIRE(table.ok());
  CHECK(table->size() == 3);
  CHECK(table->back().device == "/dev/loop1");
  REQUIRE(cache_.GetLinearTable("h4test", "vol1").ok());
  CHECK(Runs("lvs") == 1);
  CHECK(Runs("pvs") == 1);
}

TEST_CASE_METHOD(CacheFixture, "after an lvextend the table needs no pvs") {
  ScriptReports();
  ScriptChanges();
  REQUIRE(cache_.GetLinearTable("h4test", "vol1").ok());
  REQUIRE(cache_.LvExtend("h4test", "vol1", LvSize::Extents(17)).ok());
  // The PVs' free counts are stale now, their layout is not.
  REQUIRE(cache_.GetLinearTable("h4test", "vol1").ok());
  CHECK(Runs("lvs") == 2);
  CHECK(Runs("pvs") == 1);
  REQUIRE(cache_.GetPvs().ok());  // a PV report itself is re-read
  CHECK(Runs("pvs") == 2);
  // pvcreate may re-create a PV: the next table reads the PVs again.
  runner_.Expect({"lvm", "pvcreate"}, {}, kPrefix);
  REQUIRE(cache_.PvCreate({.devices = {"/dev/loop1"}}).ok());
  REQUIRE(cache_.GetLinearTable("h4test", "vol1").ok());
  CHECK(Runs("pvs") == 3);
}

TEST_CASE_METHOD(CacheFixture, "concurrent misses share one lvs") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> entered{0};
  runner_.ExpectHandler({"lvm", "lvs"},
                        [&](const ProcessSpec&) -> Result<ProcessResult> {
                          ++entered;
                          released.wait();
                          return Ok(testdata::kLvsJson);
                        },
                        kPrefix);
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (cache_.GetLv("h4test", i % 2 ? "vol1" : "vol2").ok()) ++ok;
    });
  }
  // Every thread has missed (one runs lvs, the rest wait for it).
  while (cache_.Stats().misses < kThreads) std::this_thread::yield();
  release.set_value();
  for (std::thread& t : threads) t.join();
  CHECK(ok == kThreads);
  CHECK(entered == 1);
  CHECK(Runs("lvs") == 1);
  CHECK(cache_.Stats().reloads == 1);
}

TEST_CASE_METHOD(CacheFixture,
                 "a reload racing a change is not stored as fresh") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::atomic<bool> first{true};
  runner_.ExpectHandler({"lvm", "lvs"},
                        [&](const ProcessSpec&) -> Result<ProcessResult> {
                          if (first.exchange(false)) {
                            entered.set_value();
                            released.wait();
                          }
                          return Ok(testdata::kLvsJson);
                        },
                        kPrefix);
  ScriptChanges();
  std::atomic<bool> reader_ok{false};  // Catch asserts on this thread only.
  std::thread reader([&] { reader_ok = cache_.GetLv("h4test", "vol1").ok(); });
  entered.get_future().wait();
  // The change lands while the first lvs is running.
  REQUIRE(cache_.LvExtend("h4test", "vol1", LvSize::MiB(4096)).ok());
  release.set_value();
  reader.join();
  CHECK(reader_ok);
  REQUIRE(cache_.GetLv("h4test", "vol1").ok());
  CHECK(Runs("lvs") == 2);
  // vol2 was not invalidated: what the first lvs read of it is fresh.
  REQUIRE(cache_.GetLv("h4test", "vol2").ok());
  CHECK(Runs("lvs") == 2);
}

class TwoSlots : public CacheFixture {
 protected:
  TwoSlots() : CacheFixture(2) {}
};

TEST_CASE_METHOD(TwoSlots, "concurrent lvm processes are bounded") {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  runner_.ExpectHandler({"lvm", "lvextend"},
                        [&](const ProcessSpec&) -> Result<ProcessResult> {
                          int now = ++running;
                          int seen = peak.load();
                          while (now > seen &&
                                 !peak.compare_exchange_weak(seen, now)) {
                          }
                          std::this_thread::sleep_for(
                              std::chrono::milliseconds(5));
                          --running;
                          return Ok();
                        },
                        kPrefix);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      if (cache_.LvExtend("vg", "lv" + std::to_string(i), LvSize::MiB(256))
              .ok()) {
        ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(peak <= 2);
  CHECK(peak >= 1);
  CHECK(Runs("lvextend") == 8);
  CHECK(cache_.Stats().changes == 8);
}

TEST_CASE_METHOD(CacheFixture, "SetDevices drops the cache and filters") {
  ScriptReports();
  REQUIRE(cache_.GetVg("h4test").ok());
  cache_.SetDevices({"/dev/loop5"});
  REQUIRE(cache_.GetVg("h4test").ok());
  CHECK(Runs("vgs") == 2);
  CHECK(runner_.CallArgvs().back()[3] == LvmConfig({"/dev/loop5"}));
  cache_.InvalidateAll();
  REQUIRE(cache_.GetVg("h4test").ok());
  CHECK(Runs("vgs") == 3);
}

}  // namespace
}  // namespace sanpool::lvm
