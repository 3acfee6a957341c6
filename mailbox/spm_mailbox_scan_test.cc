// SpmMailbox without an ActiveHostsFn and with full_rescan_interval: reads
// every host id only at start, on unexplained events and every full
// rescan; the other scans read the known hosts only.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>

#include "mailbox/mailbox_test_util.h"
#include "mailbox/spm_mailbox.h"

namespace sanpool::mailbox::testing {
namespace {

bool Ready(std::future<ExtendOutcome>& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

TEST_CASE_METHOD(MailboxFixture,
                 "the SPM reads unknown hosts only on full rescans and "
                 "unexplained events") {
  SpmMailboxOptions o;
  o.inbox_path = inbox_path;
  o.outbox_path = outbox_path;
  o.full_rescan_interval = std::chrono::seconds(5);
  spm = std::make_unique<SpmMailbox>(
      *env, clock, o, [this](const SpmExtendRequest& r) { return vg.Extend(r); },
      nullptr);
  REQUIRE(spm->Start().ok());
  REQUIRE(Drive([&] { return spm->stats().full_scans == 1; }));
  Run(1500);
  // Nobody known yet: the periodic rescans read nothing.
  CHECK(spm->stats().full_scans == 1);
  CHECK(spm->stats().scans == 1);

  // Host 7's first request: its event is not explained by a known host,
  // so the SPM reads every host at once (no wait for the full rescan).
  HostMailbox& host = StartHost(7);
  auto first = host.RequestExtend(Request(1, 2 * kGiB));
  REQUIRE(Drive([&] { return Ready(first); }, 2000));
  CHECK(first.get().status.ok());
  CHECK(spm->stats().full_scans == 2);
  // The CLEAN handshake and periodic rescans read host 7 alone.
  REQUIRE(Drive([&] { return host.PendingCount() == 0; }));
  const uint64_t scans = spm->stats().scans;
  Run(2500);
  CHECK(spm->stats().scans > scans);
  CHECK(spm->stats().full_scans == 2);

  // A known host's next request needs no full read.
  auto second = host.RequestExtend(Request(2, 3 * kGiB));
  REQUIRE(Drive([&] { return Ready(second); }, 2000));
  CHECK(second.get().status.ok());
  CHECK(spm->stats().full_scans == 2);

  // The full rescan comes back every 5 s.
  REQUIRE(Drive([&] { return spm->stats().full_scans == 3; }, 6000));
  CHECK(vg.Size(TestUuid(0x70, 2)) == 3 * kGiB);
}

}  // namespace
}  // namespace sanpool::mailbox::testing
