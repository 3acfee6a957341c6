// Host and SPM engines together on two regular files (250 host areas),
// driven by a FakeClock.
#include <catch2/catch.hpp>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "mailbox/mailbox_test_util.h"

namespace sanpool::mailbox::testing {
namespace {

using Futures = std::vector<std::future<ExtendOutcome>>;

bool Ready(const std::future<ExtendOutcome>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

bool AllReady(const Futures& futures) {
  for (const auto& f : futures) {
    if (!Ready(f)) return false;
  }
  return true;
}

std::string Slot(const std::string& area, int slot) {
  return area.substr(slot * kMessageSize, kMessageSize);
}

TEST_CASE_METHOD(MailboxFixture, "single extend round trip") {
  StartSpm({1});
  HostMailbox& host = StartHost(1);
  auto done = host.RequestExtend(Request(1, 2 * kGiB));
  REQUIRE(Drive([&] { return Ready(done); }));
  ExtendOutcome outcome = done.get();
  INFO(outcome.status.ToString());
  CHECK(outcome.status.ok());
  CHECK(outcome.size_bytes == 2 * kGiB);
  CHECK(vg.Size(TestUuid(0x70, 1)) == 2 * kGiB);
  CHECK(vg.Calls() == 1);
  const ExtendTimings& t = outcome.timings;
  CHECK(t.queued <= t.sent);
  CHECK(t.sent <= t.answered);
  CHECK(t.answered <= t.completed);
  CHECK(t.sent != SteadyTime{});

  // The CLEAN handshake finishes: the slot is zero again in the inbox and
  // the outbox holds CLEAN.
  REQUIRE(Drive([&] {
    std::string inbox = ReadInboxArea(1);
    return Slot(inbox, 0) == std::string(kMessageSize, '\0') &&
           Slot(ReadOutboxArea(1), 0) == CleanMessage();
  }));
  CHECK(VerifyMailbox(ReadInboxArea(1)).ok());
  CHECK(host.PendingCount() == 0);
  CHECK(host.stats().replies == 1);
  // Idle: the host stops reading its outbox.
  const uint64_t reads = host.stats().outbox_reads;
  Run(200);
  CHECK(host.stats().outbox_reads == reads);
}

TEST_CASE_METHOD(MailboxFixture, "request bytes on storage are oVirt's") {
  HostMailbox& host = StartHost(7);
  ExtendRequest request = Request(3, 5120 * kMiB);
  request.domain_uuid = "11111111-2222-3333-4444-555566667777";
  request.volume_uuid = "aaaaaaaa-bbbb-cccc-dddd-eeeeffff0000";
  auto done = host.RequestExtend(request);
  REQUIRE(Drive([&] { return host.stats().event_writes >= 1; }));
  const std::string area = ReadInboxArea(7);
  Result<std::string> expected = EncodeExtend(
      {request.domain_uuid, request.volume_uuid, 5120});
  REQUIRE(expected.ok());
  CHECK(Slot(area, 0) == *expected);
  CHECK(VerifyMailbox(area).ok());
  Result<std::string> token = DecodeEventBlock(ReadInboxArea(0));
  REQUIRE(token.ok());
  CHECK(token->size() == kEventTokenSize);
  host.Stop();
  CHECK(done.get().status.code() == Code::kCancelled);
  // Stop leaves an empty area.
  CHECK(ReadInboxArea(7) == std::string(kMailboxSize, '\0'));
}

TEST_CASE_METHOD(MailboxFixture, "more than 63 concurrent requests queue") {
  StartSpm({1});
  HostMailbox& host = StartHost(1);
  Futures futures;
  for (int v = 0; v < 150; ++v) {
    futures.push_back(host.RequestExtend(Request(v, (v + 1) * kGiB)));
  }
  REQUIRE(Drive([&] { return AllReady(futures); }));
  for (int v = 0; v < 150; ++v) {
    ExtendOutcome outcome = futures[v].get();
    INFO("volume " << v << ": " << outcome.status.ToString());
    CHECK(outcome.status.ok());
    CHECK(outcome.size_bytes == static_cast<uint64_t>(v + 1) * kGiB);
  }
  CHECK(vg.Calls() == 150);
  CHECK(host.PendingCount() == 0);
}

TEST_CASE_METHOD(MailboxFixture, "three hosts at once, including the last id") {
  StartSpm({1, 2, 250});
  std::vector<HostMailbox*> list = {&StartHost(1), &StartHost(2),
                                    &StartHost(250)};
  Futures futures;
  for (size_t h = 0; h < list.size(); ++h) {
    for (int v = 0; v < 40; ++v) {
      futures.push_back(list[h]->RequestExtend(
          Request(static_cast<int>(h) * 1000 + v, kGiB)));
    }
  }
  REQUIRE(Drive([&] { return AllReady(futures); }));
  for (auto& f : futures) CHECK(f.get().status.ok());
  CHECK(vg.Calls() == 120);
}

TEST_CASE_METHOD(MailboxFixture, "duplicate requests coalesce") {
  StartSpm({1});
  HostMailbox& host = StartHost(1);

  SECTION("before the message is sent") {
    auto small = host.RequestExtend(Request(1, 1 * kGiB));
    auto large = host.RequestExtend(Request(1, 3 * kGiB));
    REQUIRE(Drive([&] { return Ready(small) && Ready(large); }));
    ExtendOutcome a = small.get();
    ExtendOutcome b = large.get();
    CHECK(a.status.ok());
    CHECK(b.status.ok());
    CHECK(a.size_bytes == 3 * kGiB);
    CHECK(b.size_bytes == 3 * kGiB);
    CHECK(vg.CallsFor(TestUuid(0x70, 1)) == 1);
    CHECK(host.stats().coalesced == 1);
  }
  SECTION("after the message is sent") {
    auto small = host.RequestExtend(Request(1, 1 * kGiB));
    REQUIRE(Drive([&] { return host.stats().inbox_writes >= 2; }));
    auto large = host.RequestExtend(Request(1, 3 * kGiB));
    REQUIRE(Drive([&] { return Ready(small) && Ready(large); }));
    CHECK(small.get().status.ok());
    ExtendOutcome b = large.get();
    CHECK(b.status.ok());
    CHECK(b.size_bytes >= 3 * kGiB);
    CHECK(vg.Size(TestUuid(0x70, 1)) == 3 * kGiB);
  }
  SECTION("a smaller duplicate completes with the larger") {
    auto large = host.RequestExtend(Request(1, 3 * kGiB));
    auto small = host.RequestExtend(Request(1, 1 * kGiB));
    REQUIRE(Drive([&] { return Ready(small) && Ready(large); }));
    CHECK(small.get().size_bytes == 3 * kGiB);
    CHECK(large.get().size_bytes == 3 * kGiB);
    CHECK(vg.CallsFor(TestUuid(0x70, 1)) == 1);
  }
}

TEST_CASE_METHOD(MailboxFixture, "VG full is replied with size 0") {
  vg.SetFree(1 * kGiB);
  SpmMailbox& spm = StartSpm({1});
  HostMailbox& host = StartHost(1);
  auto big = host.RequestExtend(Request(1, 2 * kGiB));
  REQUIRE(Drive([&] { return Ready(big); }));
  ExtendOutcome outcome = big.get();
  CHECK(outcome.status.code() == Code::kResourceExhausted);
  CHECK(host.stats().failure_replies == 1);
  CHECK(spm.stats().failure_replies == 1);
  // The slot is recycled and a request that fits succeeds.
  auto fits = host.RequestExtend(Request(2, 512 * kMiB));
  REQUIRE(Drive([&] { return Ready(fits); }));
  CHECK(fits.get().status.ok());
}

TEST_CASE_METHOD(MailboxFixture, "a garbage mailbox is skipped, others served") {
  std::string garbage(kMailboxSize, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = static_cast<char>((i * 131 + 7) & 0xff);
  }
  WriteInboxArea(2, garbage);
  // Host 4: checksum right, messages wrong (bad version, unknown opcode).
  std::string bad_messages(kMailboxSize, '\0');
  Result<std::string> good = EncodeExtend(
      {TestUuid(1, 1), TestUuid(2, 2), 100});
  REQUIRE(good.ok());
  std::string bad_version = *good;
  bad_version[0] = '7';
  std::string bad_opcode = *good;
  bad_opcode.replace(1, 4, "shrk");
  bad_messages.replace(0, kMessageSize, bad_version);
  bad_messages.replace(kMessageSize, kMessageSize, bad_opcode);
  SealMailbox(bad_messages.data());
  WriteInboxArea(4, bad_messages);

  SpmMailbox& spm = StartSpm({1, 2, 3, 4});
  HostMailbox& one = StartHost(1);
  HostMailbox& three = StartHost(3);
  auto a = one.RequestExtend(Request(1, kGiB));
  auto b = three.RequestExtend(Request(2, kGiB));
  REQUIRE(Drive([&] { return Ready(a) && Ready(b); }));
  CHECK(a.get().status.ok());
  CHECK(b.get().status.ok());
  // Several rescans later each problem was logged (counted) once.
  Run(2500);
  SpmMailboxStats stats = spm.stats();
  CHECK(stats.scans >= 3);
  CHECK(stats.bad_mailboxes == 1);
  CHECK(stats.bad_messages == 2);
  CHECK(vg.Calls() == 2);
  // Nothing was written to the bad hosts' outbox areas.
  CHECK(ReadOutboxArea(2) == std::string(kMailboxSize, '\0'));
  CHECK(ReadOutboxArea(4) == std::string(kMailboxSize, '\0'));
}

TEST_CASE_METHOD(MailboxFixture, "a garbage outbox is ignored and repaired") {
  SpmMailbox& spm = StartSpm({1});
  HostMailbox& host = StartHost(1);
  auto first = host.RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return Ready(first); }));
  // A stray writer scribbles over the outbox while a request is pending.
  auto second = host.RequestExtend(Request(2, kGiB));
  WriteOutboxArea(1, std::string(kMailboxSize, '\x5a'));
  REQUIRE(Drive([&] { return Ready(second); }));
  CHECK(second.get().status.ok());
  // Scribbling while idle is repaired by the next rescan.
  REQUIRE(Drive([&] {
    return ReadInboxArea(1) == std::string(kMailboxSize, '\0');
  }));
  const std::string good = ReadOutboxArea(1);
  WriteOutboxArea(1, std::string(kMailboxSize, '\x5a'));
  Run(1500);
  CHECK(spm.stats().outbox_repairs >= 1);
  CHECK(ReadOutboxArea(1) == good);
}

TEST_CASE_METHOD(MailboxFixture, "a new SPM re-serves pending requests") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  vg.SetHook([&, released](const SpmExtendRequest&) {
    if (vg.Calls() == 1) released.wait();  // the first SPM dies mid-extend
  });
  StartSpm({1});
  HostMailbox& host = StartHost(1);
  auto done = host.RequestExtend(Request(1, 4 * kGiB));
  REQUIRE(Drive([&] { return vg.Calls() == 1; }));

  WaitQuiet();  // host and SPM asleep: the fake clock holds both
  REQUIRE(clock.SleeperCount() == 2);
  std::thread stopper([&] { spm->Stop(); });
  // Once the SPM's thread has left, Stop waits for the running extend.
  while (clock.SleeperCount() > 1) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  release.set_value();  // its reply must not be written
  stopper.join();
  spm.reset();
  Run(50);
  CHECK_FALSE(Ready(done));
  CHECK(Slot(ReadOutboxArea(1), 0)[0] == '\0');

  StartSpm({1});
  REQUIRE(Drive([&] { return Ready(done); }));
  ExtendOutcome outcome = done.get();
  CHECK(outcome.status.ok());
  CHECK(outcome.size_bytes == 4 * kGiB);
  CHECK(vg.CallsFor(TestUuid(0x70, 1)) == 2);  // served again, idempotent
}

TEST_CASE_METHOD(MailboxFixture, "unanswered requests are resent") {
  HostMailbox& host = StartHost(1, [](HostMailboxOptions& o) {
    o.resend_timeout = std::chrono::milliseconds(50);
  });
  auto done = host.RequestExtend(Request(1, kGiB));
  // Written first (a sleeper woken early looks asleep to the fixture, so
  // wait for the effect before counting time).
  REQUIRE(Drive([&] { return host.stats().event_writes >= 1; }));
  Run(300);
  CHECK(host.stats().resends >= 3);
  CHECK_FALSE(Ready(done));
  StartSpm({1});
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.ok());
}

TEST_CASE_METHOD(MailboxFixture, "EIO on mailbox reads is retried") {
  // Start's own outbox read passes; the next five fail.
  env->AddFault({.op = Op::kDirectRead, .path_substring = "outbox",
                 .skip = 1, .times = 5});
  env->AddFault({.op = Op::kDirectRead, .path_substring = "inbox",
                 .times = 5});
  SpmMailbox& spm = StartSpm({1});
  HostMailbox& host = StartHost(1);
  auto done = host.RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.ok());
  // The SPM reads the outbox too (rescans), so the split may vary.
  CHECK(env->InjectedCount() == 10);
  CHECK(host.stats().read_errors >= 1);
  CHECK(spm.stats().read_errors >= 5);
  CHECK(host.stats().read_errors + spm.stats().read_errors == 10);
}

TEST_CASE_METHOD(MailboxFixture, "EIO on mailbox writes is retried") {
  SpmMailbox& spm = StartSpm({1});
  HostMailbox& host = StartHost(1);
  env->AddFault({.op = Op::kDirectWrite, .path_substring = "inbox",
                 .times = 3});
  env->AddFault({.op = Op::kDirectWrite, .path_substring = "outbox",
                 .times = 3});
  auto done = host.RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.ok());
  CHECK(host.stats().write_errors == 3);
  CHECK(spm.stats().write_errors == 3);
}

TEST_CASE_METHOD(MailboxFixture, "a restarted host acknowledges a stale reply") {
  Result<std::string> stale = EncodeExtend({TestUuid(1, 1), TestUuid(2, 2), 9});
  REQUIRE(stale.ok());
  std::string outbox(kMailboxSize, '\0');
  outbox.replace(0, kMessageSize, *stale);
  WriteOutboxArea(1, outbox);
  HostMailbox& host = StartHost(1);
  CHECK(Slot(ReadInboxArea(1), 0) == CleanMessage());
  // A new request must not take the stale reply as its answer.
  auto done = host.RequestExtend(Request(5, kGiB));
  Run(20);
  CHECK_FALSE(Ready(done));
  StartSpm({1});
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.ok());
}

TEST_CASE_METHOD(MailboxFixture, "bad requests and stopped mailboxes") {
  HostMailbox& host = StartHost(1);
  ExtendRequest bad = Request(1, kGiB);
  bad.volume_uuid = "../../etc";
  CHECK(host.RequestExtend(bad).get().status.code() ==
        Code::kInvalidArgument);
  CHECK(host.RequestExtend(Request(1, 0)).get().status.code() ==
        Code::kInvalidArgument);
  CHECK(host.RequestExtend(Request(1, (kMaxSizeMiB + 1) * kMiB))
            .get()
            .status.code() == Code::kInvalidArgument);
  host.Stop();
  CHECK(host.RequestExtend(Request(1, kGiB)).get().status.code() ==
        Code::kUnavailable);
}

TEST_CASE_METHOD(MailboxFixture, "a reload that falls short fails the request") {
  StartSpm({1});
  HostMailbox& host = StartHost(1);
  // A host whose mapping does not grow (a reload that did not take).
  hosts.clear();
  HostMailboxOptions options;
  options.inbox_path = inbox_path;
  options.outbox_path = outbox_path;
  options.host_id = 1;
  (void)host;
  auto stuck = std::make_unique<HostMailbox>(
      *env, clock, options,
      [](const ExtendRequest&) -> Result<uint64_t> { return kGiB / 2; });
  REQUIRE(stuck->Start().ok());
  hosts.push_back(std::move(stuck));
  auto done = hosts.back()->RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.code() == Code::kFailedPrecondition);
}

TEST_CASE_METHOD(MailboxFixture, "an extend refused with kAborted is not answered") {
  std::atomic<bool> refuse{true};
  SpmMailboxOptions options;
  options.inbox_path = inbox_path;
  options.outbox_path = outbox_path;
  spm = std::make_unique<SpmMailbox>(
      *env, clock, options,
      [&](const SpmExtendRequest& r) -> Result<uint64_t> {
        if (refuse.load()) return AbortedError("not the SPM any more");
        return vg.Extend(r);
      },
      [] { return std::vector<int>{1}; });
  REQUIRE(spm->Start().ok());
  HostMailbox& host = StartHost(1);
  auto done = host.RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return spm->stats().not_served >= 1; }));
  Run(100);
  CHECK_FALSE(Ready(done));
  CHECK(Slot(ReadOutboxArea(1), 0)[0] == '\0');
  CHECK(spm->stats().failure_replies == 0);
  StopSpm();
  refuse = false;
  StartSpm({1});
  REQUIRE(Drive([&] { return Ready(done); }));
  CHECK(done.get().status.ok());
}

TEST_CASE_METHOD(MailboxFixture, "an SPM that may not serve writes nothing") {
  std::atomic<bool> serving{true};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  vg.SetHook([released](const SpmExtendRequest&) { released.wait(); });
  StartSpm({1}, [&](SpmMailboxOptions& o) {
    o.serving = [&serving] { return serving.load(); };
  });
  HostMailbox& host = StartHost(1);
  auto first = host.RequestExtend(Request(1, kGiB));
  REQUIRE(Drive([&] { return vg.Calls() == 1; }));
  serving = false;  // the role went while the extend ran
  release.set_value();
  auto second = host.RequestExtend(Request(2, kGiB));
  Run(300);
  CHECK_FALSE(Ready(first));
  CHECK_FALSE(Ready(second));
  CHECK(vg.Calls() == 1);  // the second was never dispatched
  CHECK(Slot(ReadOutboxArea(1), 0)[0] == '\0');
  StopSpm();
  StartSpm({1});  // the next SPM serves both (the first again: idempotent)
  REQUIRE(Drive([&] { return Ready(first) && Ready(second); }));
  CHECK(first.get().status.ok());
  CHECK(second.get().status.ok());
  CHECK(vg.CallsFor(TestUuid(0x70, 1)) == 2);
}

}  // namespace
}  // namespace sanpool::mailbox::testing
