// Activator over a FakeDeviceMapper and an LvmCache replaying recorded lvm
// output (activator_fixture.h; lvm_testdata.h: VG h4test, LV vol1 in three
// segments on two PVs).
#include "domains/block/activation.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <future>

#include "domains/block/activator_fixture.h"

namespace sanpool::block {
namespace {

constexpr uint64_t kExtentSectors = 128 * 2048;
constexpr uint64_t kPeStartSectors = 135266304 / 512;

// Three removal retries, counted; on_busy_wait_ runs on each.
class ActivatorTest : public ActivatorFixture {
 protected:
  // The busy_wait hook only runs in test bodies, when the members it
  // touches are constructed.
  ActivatorTest()
      : ActivatorFixture({.busy_retries = 3, .busy_wait = [this] {
                            ++busy_waits_;
                            if (on_busy_wait_) on_busy_wait_();
                          }}) {}

  size_t LvsRuns() {
    size_t n = 0;
    for (const auto& argv : runner_.CallArgvs()) {
      if (argv.size() > 1 && argv[1] == "lvs") ++n;
    }
    return n;
  }

  int busy_waits_ = 0;
  std::function<void()> on_busy_wait_;
};

TEST_CASE_METHOD(ActivatorTest, "activation maps the LV segments linearly") {
  auto path = activator_.Activate("h4test", "vol1", LockMode::kShared);
  REQUIRE(path.ok());
  CHECK(*path == "/dev/fake-dm/h4test-vol1");
  auto table = dm_.TableOf("h4test-vol1");
  REQUIRE(table);
  const dm::Table want = {
      {0, 3 * kExtentSectors, "/dev/loop0", kPeStartSectors + kExtentSectors},
      {3 * kExtentSectors, 8 * kExtentSectors, "/dev/loop0",
       kPeStartSectors + 5 * kExtentSectors},
      {11 * kExtentSectors, 5 * kExtentSectors, "/dev/loop1", kPeStartSectors},
  };
  CHECK(*table == want);
  CHECK(activator_.IsActive("h4test", "vol1"));
}

TEST_CASE_METHOD(ActivatorTest, "references: shared readers, one writer") {
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kExclusive).ok());
  CHECK(DmCalls("create") == 1);
  auto second = activator_.Activate("h4test", "vol1", LockMode::kExclusive);
  CHECK(second.status().code() == Code::kFailedPrecondition);

  REQUIRE(activator_.Deactivate("h4test", "vol1", LockMode::kShared).ok());
  REQUIRE(activator_.Deactivate("h4test", "vol1", LockMode::kExclusive).ok());
  CHECK(dm_.TableOf("h4test-vol1"));
  REQUIRE(activator_.Deactivate("h4test", "vol1", LockMode::kShared).ok());
  CHECK_FALSE(dm_.TableOf("h4test-vol1"));
  CHECK_FALSE(activator_.IsActive("h4test", "vol1"));
  // Releasing again is harmless (idempotent teardown).
  CHECK(activator_.Deactivate("h4test", "vol1", LockMode::kShared).ok());
}

TEST_CASE_METHOD(ActivatorTest, "a failed create leaves no reference") {
  dm_.FailNext(UnavailableError("dmemu down"));
  auto path = activator_.Activate("h4test", "vol1", LockMode::kExclusive);
  CHECK(path.status().code() == Code::kUnavailable);
  CHECK_FALSE(activator_.IsActive("h4test", "vol1"));
  CHECK(activator_.Activate("h4test", "vol1", LockMode::kExclusive).ok());
}

TEST_CASE_METHOD(ActivatorTest, "a mapping left by an earlier run is adopted") {
  REQUIRE(dm_.Create("h4test-vol1", "",
                     {{0, 8, "/dev/loop0", 0}})
              .ok());
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  CHECK(DmCalls("reload") == 1);
  CHECK(dm_.TableOf("h4test-vol1")->size() == 3);
}

TEST_CASE_METHOD(ActivatorTest, "refresh reloads mapped LVs only") {
  REQUIRE(activator_.Refresh("h4test", "vol1").ok());
  CHECK(DmCalls("reload") == 0);
  CHECK_FALSE(dm_.TableOf("h4test-vol1"));
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  REQUIRE(activator_.Refresh("h4test", "vol1").ok());
  CHECK(DmCalls("reload") == 1);
}

TEST_CASE_METHOD(ActivatorTest, "refresh of an LV not mapped here runs no lvm") {
  // The SPM extending another host's volume: no segments to read.
  const size_t before = LvsRuns();
  REQUIRE(activator_.Refresh("h4test", "vol1").ok());
  REQUIRE(activator_.Refresh("h4test", "vol1",
                              Activator::CacheState::kFresh)
              .ok());
  CHECK(LvsRuns() == before);
  CHECK(DmCalls("reload") == 0);
}

TEST_CASE_METHOD(ActivatorTest, "refresh re-reads the LV unless told fresh") {
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  const size_t before = LvsRuns();
  REQUIRE(activator_.Refresh("h4test", "vol1").ok());
  CHECK(LvsRuns() == before + 1);  // another host may have extended it
  REQUIRE(activator_.Refresh("h4test", "vol1",
                              Activator::CacheState::kFresh)
              .ok());
  CHECK(LvsRuns() == before + 1);
}

TEST_CASE_METHOD(ActivatorTest, "an open mapping survives the last release") {
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  dm_.SetOpenCount("h4test-vol1", 1);
  Status s = activator_.Deactivate("h4test", "vol1", LockMode::kShared);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(busy_waits_ == 3);  // every retry spent first
  CHECK_FALSE(activator_.IsActive("h4test", "vol1"));
  CHECK(dm_.TableOf("h4test-vol1"));
  CHECK(activator_.ForceDeactivate("h4test", "vol1").code() ==
        Code::kFailedPrecondition);
  dm_.SetOpenCount("h4test-vol1", 0);
  CHECK(activator_.ForceDeactivate("h4test", "vol1").ok());
  CHECK_FALSE(dm_.TableOf("h4test-vol1"));
}

TEST_CASE_METHOD(ActivatorTest,
                 "a mapping opened for a moment (udev, blkid) is removed once "
                 "its openers go") {
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kExclusive).ok());
  dm_.SetOpenCount("h4test-vol1", 1);
  on_busy_wait_ = [this] {
    if (busy_waits_ == 2) dm_.SetOpenCount("h4test-vol1", 0);
  };
  REQUIRE(activator_.Deactivate("h4test", "vol1", LockMode::kExclusive).ok());
  CHECK(busy_waits_ == 2);
  CHECK_FALSE(dm_.TableOf("h4test-vol1"));
}

TEST_CASE_METHOD(ActivatorTest,
                 "a removal waiting for openers blocks only its own LV") {
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
  dm_.SetOpenCount("h4test-vol1", 1);
  std::future<Result<std::string>> other;
  std::future<Result<std::string>> same;
  on_busy_wait_ = [&] {
    if (busy_waits_ != 1) return;
    // Another LV maps and releases meanwhile (the lock is not held here).
    other = std::async(std::launch::async, [&] {
      return activator_.Activate("h4test", "vol2", LockMode::kShared);
    });
    CHECK(other.wait_for(std::chrono::seconds(10)) ==
          std::future_status::ready);
    // The LV being removed waits for the removal to end.
    same = std::async(std::launch::async, [&] {
      return activator_.Activate("h4test", "vol1", LockMode::kExclusive);
    });
    CHECK(same.wait_for(std::chrono::milliseconds(100)) ==
          std::future_status::timeout);
    dm_.SetOpenCount("h4test-vol1", 0);  // the transient opener goes
  };
  REQUIRE(activator_.Deactivate("h4test", "vol1", LockMode::kShared).ok());
  REQUIRE(other.valid());
  CHECK(other.get().ok());
  CHECK(activator_.IsActive("h4test", "vol2"));
  // Removed, then mapped again for the waiting writer.
  REQUIRE(same.valid());
  Result<std::string> again = same.get();
  REQUIRE(again.ok());
  CHECK(DmCalls("remove") == 2);  // refused while open, then done
  CHECK(DmCalls("create") == 3);  // vol1, vol2, vol1 again
  CHECK(activator_.IsActive("h4test", "vol1"));
}

TEST_CASE_METHOD(ActivatorTest, "stale mappings of our VGs are removed at start") {
  const dm::Table table = {{0, 8, "/dev/loop0", 0}};
  REQUIRE(dm_.Create("h4test-old", "", table).ok());
  REQUIRE(dm_.Create("h4test-busy", "", table).ok());
  REQUIRE(dm_.Create("othervg-lv", "", table).ok());
  dm_.SetOpenCount("h4test-busy", 1);
  REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());

  auto stale = activator_.RemoveStale({"h4test"});
  REQUIRE(stale.ok());
  CHECK(stale->removed == std::vector<std::string>{"h4test-old"});
  CHECK(stale->busy == std::vector<std::string>{"h4test-busy"});
  CHECK(dm_.TableOf("h4test-vol1"));  // referenced: kept
  CHECK(dm_.TableOf("othervg-lv"));   // not ours
}

}  // namespace
}  // namespace sanpool::block
