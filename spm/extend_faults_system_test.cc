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
// Bounded: each wait at most kLimit. The rig (spm/extend_rig_fixture.h)
// stops the services and daemons, removes the VG, detaches the loops,
// whatever happened.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "domains/block/lvm.h"
#include "spm/extend_rig_fixture.h"
#include "spm/extend_service.h"

namespace sanpool::spm {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = mailbox::kMiB;
constexpr char kSd[] = "9f9f9f9f-0000-4000-8000-0000000000b1";
constexpr char kImg[] = "9f9f9f9f-0000-4000-8000-0000000000c1";
constexpr char kVol[] = "9f9f9f9f-0000-4000-8000-0000000000c2";
constexpr seconds kLimit{120};
// Long enough for several polls, resends (1 s) and rescans (200 ms).
constexpr milliseconds kStuck{2500};

bool Ready(const std::future<ExtendResult>& f) {
  return f.wait_for(seconds(0)) == std::future_status::ready;
}

TEST_CASE("mailbox I/O faults on the hosts' own device mappings",
          "[system]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  ExtendRig rig("sanpool-mbfault", kSd);
  ExtendRigHost& h1 = rig.host1();
  ExtendRigHost& h2 = rig.host2();
  rig.CreateDomain("mailbox faults");
  rig.CreateThinVolume(kImg, kVol, 4096 * kMiB);
  rig.OpenDomain();
  // The SPM extends one volume per lvextend.
  rig.StartServices(ExtenderKind::kPerVolume,
                    {.rescan_interval = milliseconds(200),
                     .resend_timeout = seconds(1)},
                    kLimit);

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
  // The request stays pending and the LV does not grow (for kStuck).
  auto expect_stuck = [&](const std::future<ExtendResult>& f) {
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
    CHECK(lv_size() == target - 128 * kMiB);
  };
  // The LV grows to the target (within kLimit) but the request stays
  // pending (for kStuck): the reply does not reach host 2.
  auto expect_unanswered = [&](const std::future<ExtendResult>& f) {
    const auto deadline = std::chrono::steady_clock::now() + kLimit;
    while (lv_size() < target) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(milliseconds(50));
    }
    std::this_thread::sleep_for(kStuck);
    CHECK_FALSE(Ready(f));
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
    expect_stuck(f);
    h2.ClearFaults();
    expect_done(f);  // the next resend gets through
  }
  {
    // Host 2 cannot read its outbox: extended, but it cannot tell yet.
    h2.SetFaults("outbox", {.read_error = true});
    auto f = ask();
    expect_unanswered(f);
    h2.ClearFaults();
    expect_done(f);
  }
  {
    // The SPM cannot read the inbox: nothing is served.
    h1.SetFaults("inbox", {.read_error = true});
    auto f = ask();
    expect_stuck(f);
    h1.ClearFaults();
    expect_done(f);
  }
  {
    // The SPM cannot write the outbox: extended, the reply waits.
    h1.SetFaults("outbox", {.write_error = true});
    auto f = ask();
    expect_unanswered(f);
    h1.ClearFaults();
    expect_done(f);
  }

  h2.service->Stop();
  h1.service->Stop();
}

}  // namespace
}  // namespace sanpool::spm
