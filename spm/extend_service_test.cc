#include "spm/extend_service.h"

#include <catch2/catch.hpp>
#include <future>
#include <utility>
#include <vector>

#include "spm/extend_test_util.h"

namespace sanpool::spm {
namespace {

using testing::ExtendFixture;
using testing::FirstExtendGate;
using testing::kGiB;
using testing::TestHost;

bool Ordered(const ExtendTimings& t) {
  return t.queued <= t.sent && t.sent <= t.answered &&
         t.answered <= t.extended && t.extended <= t.reloaded;
}

// One lvm call per VG at a time: later requests wait behind a held one.
void OneCallPerVg(ExtendServiceOptions& o) { o.spm_per_domain = 1; }

// `from` asks for volume 1 at 3 GiB (request X) and the SPM's lvextend of it
// is held by `gate` (REQUIRE-s that it got there); X's future.
std::future<ExtendResult> ExtendHeld(ExtendFixture& f, FirstExtendGate& gate,
                                     TestHost& from) {
  auto x = from.service->Extend(f.Request(1, 3 * kGiB));
  REQUIRE(f.Drive([&] { return gate.Entered(); }));
  return x;
}

// Drives both requests to their end and CHECKs that both succeeded.
std::pair<ExtendResult, ExtendResult> BothOk(ExtendFixture& f,
                                             std::future<ExtendResult>& x,
                                             std::future<ExtendResult>& y) {
  REQUIRE(f.DriveReady(x));
  REQUIRE(f.DriveReady(y));
  ExtendResult rx = x.get(), ry = y.get();
  INFO(rx.status.ToString() << " / " << ry.status.ToString());
  CHECK(rx.status.ok());
  CHECK(ry.status.ok());
  return {rx, ry};
}

TEST_CASE("on the SPM an extend runs directly and refreshes the mapping") {
  ExtendFixture f;
  TestHost& spm = f.StartHost(1, /*spm=*/true);
  auto done = spm.service->Extend(f.Request(1, 3 * kGiB));
  REQUIRE(f.DriveReady(done));
  ExtendResult r = done.get();
  INFO(r.status.ToString());
  CHECK(r.status.ok());
  CHECK(r.path == ExtendPath::kLocal);
  CHECK(r.size_bytes == 3 * kGiB);
  CHECK(f.mb.vg.Size(r.request.volume_uuid) == 3 * kGiB);
  CHECK(spm.refresher->count() == 1);
  CHECK(spm.refresher->here_count() == 1);  // its own cache is current
  CHECK(Ordered(r.timings));
  CHECK(r.timings.reloaded != SteadyTime{});
  CHECK(f.notified.load() == 1);
  // The SPM also serves the mailbox.
  REQUIRE(f.Drive([&] { return spm.service->ServingMailbox(); }));
}

TEST_CASE("an unreported role change is noticed by polling") {
  ExtendFixture f;
  TestHost& h = f.StartHost(1, false);
  h.role.set_spm(true);  // no OnRoleChanged
  REQUIRE(f.Drive([&] { return h.service->ServingMailbox(); }));
  h.role.set_spm(false);
  REQUIRE(f.Drive([&] { return !h.service->ServingMailbox(); }));
  CHECK(h.service->stats().spm_starts == 1);
  CHECK(h.service->stats().spm_stops == 1);
}

TEST_CASE("a host that is not SPM goes through the mailbox") {
  ExtendFixture f;
  f.mb.StartSpm({1, 2});  // the SPM engine, over the fake VG
  TestHost& host = f.StartHost(2, /*spm=*/false);
  auto done = host.service->Extend(f.Request(7, 5 * kGiB));
  REQUIRE(f.DriveReady(done));
  ExtendResult r = done.get();
  INFO(r.status.ToString());
  CHECK(r.status.ok());
  CHECK(r.path == ExtendPath::kMailbox);
  CHECK(r.size_bytes == 5 * kGiB);
  CHECK(host.extender->calls().empty());  // never extends itself
  CHECK(host.refresher->count() >= 1);
  CHECK(host.refresher->here_count() == 0);  // the SPM changed the LV
  CHECK(r.timings.sent != SteadyTime{});
  CHECK(r.timings.answered != SteadyTime{});
  CHECK(Ordered(r.timings));
  CHECK_FALSE(host.service->ServingMailbox());
}

TEST_CASE("two services: the SPM one serves the other's requests") {
  ExtendFixture f;
  auto [spm, host] = f.StartSpmAndHost();
  auto done = host.service->Extend(f.Request(3, 2 * kGiB));
  REQUIRE(f.DriveReady(done));
  ExtendResult r = done.get();
  CHECK(r.status.ok());
  CHECK(r.path == ExtendPath::kMailbox);
  CHECK(spm.extender->calls().size() == 1);
  CHECK(f.mb.vg.Size(r.request.volume_uuid) == 2 * kGiB);
}

TEST_CASE("VG full is an error to the caller, local and remote") {
  ExtendFixture f;
  auto [spm, host] = f.StartSpmAndHost();
  f.mb.vg.SetFree(1 * kGiB);

  auto local = spm.service->Extend(f.Request(1, 4 * kGiB));
  REQUIRE(f.DriveReady(local));
  ExtendResult l = local.get();
  CHECK(l.status.code() == Code::kResourceExhausted);
  CHECK(l.path == ExtendPath::kLocal);
  CHECK(spm.refresher->count() == 0);

  auto remote = host.service->Extend(f.Request(2, 4 * kGiB));
  REQUIRE(f.DriveReady(remote));
  ExtendResult r = remote.get();
  CHECK(r.status.code() == Code::kResourceExhausted);
  CHECK(r.path == ExtendPath::kMailbox);
  CHECK(f.mb.vg.Size(r.request.volume_uuid) == 0);
  CHECK(host.service->stats().failed == 1);
}

TEST_CASE("a failed refresh fails the request") {
  ExtendFixture f;
  TestHost& spm = f.StartHost(1, true);
  spm.refresher->set_fail(true);
  auto done = spm.service->Extend(f.Request(1, kGiB));
  REQUIRE(f.DriveReady(done));
  CHECK(done.get().status.code() == Code::kUnavailable);
}

TEST_CASE("bad requests and a stopped service fail inline") {
  ExtendFixture f;
  TestHost& spm = f.StartHost(1, true);
  mailbox::ExtendRequest bad = f.Request(1, kGiB);
  bad.volume_uuid = "../etc";
  auto r = spm.service->Extend(bad);
  REQUIRE(r.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(r.get().status.code() == Code::kInvalidArgument);
  auto zero = spm.service->Extend(f.Request(1, 0));
  CHECK(zero.get().status.code() == Code::kInvalidArgument);
  spm.service->Stop();
  auto late = spm.service->Extend(f.Request(1, kGiB));
  REQUIRE(late.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(late.get().status.code() == Code::kUnavailable);
}

TEST_CASE("Stop cancels requests still waiting for an SPM") {
  ExtendFixture f;
  TestHost& host = f.StartHost(2, false);  // nobody serves the mailbox
  auto done = host.service->Extend(f.Request(1, kGiB));
  f.Drive([&] { return host.service->ClockThreads() == 2; });
  host.service->Stop();
  REQUIRE(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(done.get().status.code() == Code::kCancelled);
}

TEST_CASE("a burst on the SPM, one call per VG at a time, is batched") {
  ExtendFixture f;
  TestHost& spm = f.StartHost(1, true, [](ExtendServiceOptions& o) {
    o.spm_concurrency = 2;
    o.spm_per_domain = 1;
  });
  FirstExtendGate gate(f.mb.vg);
  std::vector<std::future<ExtendResult>> done;
  done.push_back(spm.service->Extend(f.Request(1, kGiB)));
  gate.WaitEntered();  // the first batch runs alone
  for (int i = 2; i <= 100; ++i) {
    done.push_back(spm.service->Extend(f.Request(i, kGiB)));
    // A duplicate of a queued request shares its batch.
    if (i == 2) done.push_back(spm.service->Extend(f.Request(2, 2 * kGiB)));
  }
  gate.Release();
  for (auto& d : done) REQUIRE(f.DriveReady(d));
  for (auto& d : done) CHECK(d.get().status.ok());
  ExtendBatcherStats b = spm.service->stats().batcher;
  CHECK(b.batches == 3);  // 1, then 64 (2, 2 again, 3..64), then 65..100
  CHECK(b.largest_batch == 64);
  CHECK(b.requests == 101);
  CHECK(b.coalesced == 1);
  CHECK(f.mb.vg.Size(f.Request(2, 0).volume_uuid) == 2 * kGiB);
}

TEST_CASE("more than 63 concurrent requests from one host all complete") {
  ExtendFixture f;
  auto [spm, host] = f.StartSpmAndHost();
  std::vector<std::future<ExtendResult>> done;
  for (int i = 1; i <= 80; ++i) {
    done.push_back(host.service->Extend(f.Request(i, uint64_t(i) * kGiB)));
  }
  for (auto& d : done) REQUIRE(f.DriveReady(d));
  int i = 1;
  for (auto& d : done) {
    ExtendResult r = d.get();
    INFO(i << ": " << r.status.ToString());
    CHECK(r.status.ok());
    CHECK(r.size_bytes == uint64_t(i) * kGiB);
    ++i;
  }
  CHECK(host.service->stats().remote == 80);
}

TEST_CASE("role change mid-flight: the new SPM serves, nothing lost") {
  ExtendFixture f;
  // One call per VG at a time: A's local request waits behind X.
  auto [a, b] = f.StartSpmAndHost(OneCallPerVg);

  // A's first extend (B's request X) blocks inside lvextend.
  FirstExtendGate gate(f.mb.vg);
  auto x = ExtendHeld(f, gate, b);
  // A local request on A queues behind X in the same VG.
  auto y = a.service->Extend(f.Request(2, 4 * kGiB));

  // A loses the role, B gains it. B's new SPM mailbox re-serves X.
  a.SetSpm(false);
  b.SetSpm(true);
  REQUIRE(f.Drive([&] { return b.service->ServingMailbox(); }));
  REQUIRE(f.DriveReady(x));
  ExtendResult rx = x.get();
  INFO(rx.status.ToString());
  CHECK(rx.status.ok());
  CHECK(rx.path == ExtendPath::kMailbox);

  // A's blocked extend finishes; Y's batch is refused (not SPM) and Y is
  // re-sent through A's mailbox to B.
  gate.Release();
  REQUIRE(f.DriveReady(y));
  ExtendResult ry = y.get();
  INFO(ry.status.ToString());
  CHECK(ry.status.ok());
  CHECK(ry.path == ExtendPath::kMailbox);
  CHECK(a.service->stats().rerouted == 1);
  REQUIRE(f.Drive([&] { return !a.service->ServingMailbox(); }));

  // Absolute extends: served twice, applied once.
  CHECK(f.mb.vg.Size(rx.request.volume_uuid) == 3 * kGiB);
  CHECK(f.mb.vg.Size(ry.request.volume_uuid) == 4 * kGiB);
  CHECK(f.mb.vg.CallsFor(rx.request.volume_uuid) >= 2);
  CHECK(a.service->stats().batcher.not_spm == 1);
  CHECK(a.service->stats().spm_stops == 1);
}

// The Spm's on_change reaches OnRoleChanged; polling is made useless here
// (an hour) so that only the notification can explain what happens.
void SlowPoll(ExtendServiceOptions& o) {
  o.role_poll_interval = std::chrono::hours(1);
}

void SlowPollOneCallPerVg(ExtendServiceOptions& o) {
  SlowPoll(o);
  OneCallPerVg(o);
}

TEST_CASE("a role gained through OnRoleChanged serves pending requests at once") {
  ExtendFixture f;
  TestHost& a = f.StartHost(1, false, SlowPoll);
  TestHost& b = f.StartHost(2, false, SlowPoll);
  auto x = b.service->Extend(f.Request(1, 2 * kGiB));
  auto y = a.service->Extend(f.Request(2, 3 * kGiB));  // its own, pending
  f.DriveSteps(50);  // nobody serves: both wait
  REQUIRE(x.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  a.SetSpm(true);
  auto [rx, ry] = BothOk(f, x, y);
  CHECK(ry.path == ExtendPath::kMailbox);  // sent before it was the SPM
  CHECK(a.service->stats().spm_starts == 1);
  CHECK(f.mb.vg.Size(rx.request.volume_uuid) == 2 * kGiB);
}

TEST_CASE("a role lost through OnRoleChanged stops serving; the next SPM serves all") {
  ExtendFixture f;
  auto [a, b] = f.StartSpmAndHost(SlowPollOneCallPerVg, SlowPoll);
  FirstExtendGate gate(f.mb.vg);
  auto x = ExtendHeld(f, gate, b);
  auto y = a.service->Extend(f.Request(2, 4 * kGiB));  // queued behind X

  a.SetSpm(false);
  b.SetSpm(true);
  REQUIRE(f.DriveReady(x));  // b re-serves X while a's lvextend still runs
  gate.Release();
  auto [rx, ry] = BothOk(f, x, y);
  CHECK(ry.path == ExtendPath::kMailbox);
  CHECK(a.service->stats().rerouted == 1);
  REQUIRE(f.Drive([&] { return !a.service->ServingMailbox(); }));
  CHECK(a.service->stats().spm_stops == 1);
  CHECK(f.mb.vg.Size(rx.request.volume_uuid) == 3 * kGiB);
  CHECK(f.mb.vg.Size(ry.request.volume_uuid) == 4 * kGiB);
}

// Regression: the old SPM's mailbox answered an extend the batcher refused
// (654, role gone) with size 0, failing the host's request for good.
TEST_CASE("a host that lost the role unnoticed never answers with size 0") {
  ExtendFixture f;
  auto [a, b] = f.StartSpmAndHost(SlowPollOneCallPerVg, SlowPoll);
  FirstExtendGate gate(f.mb.vg);
  auto x = ExtendHeld(f, gate, b);
  auto z = b.service->Extend(f.Request(2, 2 * kGiB));  // queued behind X
  f.DriveSteps(100);  // a's mailbox dispatched Z

  a.role.set_spm(false);  // nobody tells a's service
  gate.Release();  // X's lvextend ends, Z's batch is refused
  f.DriveSteps(200);
  CHECK(z.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  CHECK(a.service->stats().batcher.not_spm == 1);

  b.SetSpm(true);
  auto [rx, rz] = BothOk(f, x, z);
  CHECK(f.mb.vg.Size(rz.request.volume_uuid) == 2 * kGiB);
}

TEST_CASE("lost and regained before the control thread looks: a fresh mailbox") {
  ExtendFixture f;
  auto [a, b] = f.StartSpmAndHost(SlowPoll, SlowPoll);
  a.role.set_spm(false);
  a.service->OnRoleChanged();
  a.SetSpm(true);
  REQUIRE(f.Drive([&] { return a.service->stats().spm_starts == 2; }));
  CHECK(a.service->stats().spm_stops == 1);
  REQUIRE(f.Drive([&] { return a.service->ServingMailbox(); }));
  auto x = b.service->Extend(f.Request(1, kGiB));
  REQUIRE(f.DriveReady(x));
  CHECK(x.get().status.ok());
}

}  // namespace
}  // namespace sanpool::spm
