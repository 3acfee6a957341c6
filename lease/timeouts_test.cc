#include "lease/timeouts.h"

#include <catch2/catch.hpp>

namespace sanpool::lease {
namespace {

using std::chrono::seconds;

// sanlock's own table (src/timeouts.h) for io_timeout 5 / 10 / 20.
TEST_CASE("timeouts match sanlock's table", "[lease][timeouts]") {
  struct Row {
    int io, renewal, fail, warn, dead, large, shortd, held_max, held_min,
        free_max, free_min, paxos_held_max, paxos_held_min, paxos_free_max;
  };
  const Row rows[] = {
      {5, 10, 40, 30, 100, 40, 10, 130, 100, 25, 10, 135, 100, 30},
      {10, 20, 80, 60, 140, 80, 20, 200, 140, 50, 20, 210, 140, 60},
      {20, 40, 160, 120, 220, 160, 40, 340, 220, 100, 40, 360, 220, 120},
  };
  for (const Row& r : rows) {
    INFO("io_timeout " << r.io);
    const seconds io(r.io);
    CHECK(IdRenewal(io) == seconds(r.renewal));
    CHECK(IdRenewalFail(io) == seconds(r.fail));
    CHECK(IdRenewalWarn(io) == seconds(r.warn));
    CHECK(HostDead(io) == seconds(r.dead));
    CHECK(DeltaLargeDelay(io) == seconds(r.large));
    CHECK(DeltaShortDelay(io) == seconds(r.shortd));
    CHECK(DeltaAcquireHeldMax(io) == seconds(r.held_max));
    CHECK(DeltaAcquireHeldMin(io) == seconds(r.held_min));
    CHECK(DeltaAcquireFreeMax(io) == seconds(r.free_max));
    CHECK(DeltaAcquireFreeMin(io) == seconds(r.free_min));
    CHECK(PaxosAcquireHeldMax(io) == seconds(r.paxos_held_max));
    CHECK(PaxosAcquireHeldMin(io) == seconds(r.paxos_held_min));
    CHECK(PaxosAcquireFreeMax(io) == seconds(r.paxos_free_max));
  }
}

TEST_CASE("oVirt's numbers at the default io_timeout", "[lease][timeouts]") {
  // reference §3.2: renewal 20 s, fail 80 s, dead 140 s.
  static_assert(IdRenewal(kDefaultIoTimeout) == seconds(20));
  static_assert(IdRenewalFail(kDefaultIoTimeout) == seconds(80));
  static_assert(HostDead(kDefaultIoTimeout) == seconds(140));
  static_assert(SpmLeaseCheckInterval(kDefaultIoTimeout) == seconds(20));
  CHECK(JoinTimeout(kDefaultIoTimeout) == seconds(200));
}

TEST_CASE("the rig's io_timeout: the fixed 60 s dominates",
          "[lease][timeouts]") {
  CHECK(IdRenewal(kRigIoTimeout) == seconds(4));
  CHECK(IdRenewalFail(kRigIoTimeout) == seconds(16));
  // RIG.md: another host acquired ~79 s after kill -9 of the holder's
  // daemon: HostDead plus about one renewal period.
  CHECK(HostDead(kRigIoTimeout) == seconds(76));
  CHECK(WatchdogFire() == seconds(60));
  CHECK(DeltaAcquireFreeMin(kRigIoTimeout) == seconds(4));
  CHECK(DeltaAcquireFreeMax(kRigIoTimeout) == seconds(10));
  // Measured joins: 5 s at io_timeout 2, 21 s at 10.
  CHECK(JoinFreeTypical(kRigIoTimeout) == seconds(5));
  CHECK(JoinFreeTypical(kDefaultIoTimeout) == seconds(21));
}

}  // namespace
}  // namespace sanpool::lease
