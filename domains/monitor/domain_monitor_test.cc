#include "domains/monitor/domain_monitor.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/fake_clock.h"
#include "base/fault_env.h"
#include "domains/file/file_test_util.h"
#include "domains/monitor/hanging_env.h"
#include "domains/sd_metadata.h"
#include "domains/storage_errors.h"

namespace sanpool::monitor {
namespace {

using file_domain::testing::ScratchDir;  // on /var/tmp: O_DIRECT works
using std::chrono::seconds;

constexpr char kSdA[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
constexpr char kSdB[] = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716";

std::string MetadataBytes(const std::string& sd_uuid) {
  DomainMetadata md;
  md.sd_uuid = sd_uuid;
  md.type = DomainType::kLocalFs;
  md.description = "monitor test";
  md.remote_path = "/srv/sd";
  Result<std::string> bytes = EncodeDomainMetadataFile(md);
  REQUIRE(bytes.ok());
  return *bytes;
}

// Domain verbs over a real directory, a HangingEnv and a FakeClock. Every
// state change the monitor reports is recorded in `changes`.
class MonitorFixture {
 public:
  explicit MonitorFixture(Env* env = nullptr)
      : env_(env != nullptr ? *env : hanging_),
        monitor_(std::make_unique<DomainMonitor>(
            env_, clock_, DomainMonitorOptions{.interval = kInterval},
            [this](const DomainStatus& s) {
              MutexLock lock(mu_);
              changes_.push_back(s);
            })) {}

  static constexpr Duration kInterval = seconds(10);

  std::string PathOf(const std::string& sd) {
    return scratch_.path() + "/" + sd + ".metadata";
  }
  void WriteMetadata(const std::string& sd, const std::string& bytes) {
    REQUIRE(posix_->WriteFile(PathOf(sd), bytes, {}).ok());
  }
  void AddDomain(const std::string& sd) {
    REQUIRE(monitor_->Add(sd, PathOf(sd)).ok());
  }
  DomainStatus StatusOf(const std::string& sd) {
    std::optional<DomainStatus> s = monitor_->Get(sd);
    REQUIRE(s.has_value());
    return *s;
  }
  // Waits for the domain's nth finished check and returns its status.
  DomainStatus AfterCheck(const std::string& sd, uint64_t n) {
    REQUIRE(monitor_->WaitForChecks(sd, n) >= n);
    return StatusOf(sd);
  }
  // Moves the fake clock to the next tick and waits until it has run.
  void Tick() {
    clock_.WaitForSleepers(1);  // the scheduler is waiting for the tick
    clock_.Advance(kInterval);
    monitor_->WaitForTicks(++ticks_);
  }
  std::vector<DomainStatus> Changes() {
    MutexLock lock(mu_);
    return changes_;
  }

  ScratchDir scratch_;
  std::unique_ptr<Env> posix_ = NewPosixEnv();
  HangingEnv hanging_{*posix_};
  FakeClock clock_;
  Env& env_;
  Mutex mu_;
  std::vector<DomainStatus> changes_ GUARDED_BY(mu_);
  uint64_t ticks_ = 0;
  std::unique_ptr<DomainMonitor> monitor_;  // last: destroyed first
};

TEST_CASE("a healthy file domain is valid with its version after the first check") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.AddDomain(kSdA);
  DomainStatus s = f.AfterCheck(kSdA, 1);
  CHECK(s.actual);
  CHECK(s.valid);
  CHECK(s.code == 0);
  CHECK(s.error.empty());
  CHECK(s.version == 5);
  CHECK(s.read_delay_s == 0);  // the fake clock did not move during the read
  CHECK_FALSE(s.acquired);
  REQUIRE(f.Changes().size() == 1);
  CHECK(f.Changes()[0].valid);
  CHECK(f.Changes()[0].sd_uuid == kSdA);
}

TEST_CASE("domains are checked again at every tick; the callback fires only on changes") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.AddDomain(kSdA);
  f.AfterCheck(kSdA, 1);
  f.Tick();
  f.AfterCheck(kSdA, 2);
  f.Tick();
  DomainStatus s = f.AfterCheck(kSdA, 3);
  CHECK(s.valid);
  CHECK(f.Changes().size() == 1);  // first result only: validity never flipped
  CHECK(f.hanging_.OpenCount(f.PathOf(kSdA)) == 3);
}

TEST_CASE("a broken seal makes the domain invalid with code 752 until repaired") {
  MonitorFixture f;
  std::string bytes = MetadataBytes(kSdA);
  std::string broken = bytes;
  broken.replace(broken.find("monitor test"), 7, "MONITOR");
  f.WriteMetadata(kSdA, broken);
  f.AddDomain(kSdA);
  DomainStatus bad = f.AfterCheck(kSdA, 1);
  CHECK(bad.actual);
  CHECK_FALSE(bad.valid);
  CHECK(bad.code == storage_code::kMetaDataSealIsBroken);
  CHECK_FALSE(bad.error.empty());

  f.WriteMetadata(kSdA, bytes);
  f.Tick();
  DomainStatus good = f.AfterCheck(kSdA, 2);
  CHECK(good.valid);
  CHECK(good.code == 0);
  CHECK(good.error.empty());
  std::vector<DomainStatus> changes = f.Changes();
  REQUIRE(changes.size() == 2);
  CHECK_FALSE(changes[0].valid);
  CHECK(changes[1].valid);
}

TEST_CASE("a missing metadata file is a read error (2001)") {
  MonitorFixture f;
  f.AddDomain(kSdA);
  DomainStatus s = f.AfterCheck(kSdA, 1);
  CHECK_FALSE(s.valid);
  CHECK(s.code == kReadErrorCode);
  CHECK(s.version == -1);
}

TEST_CASE("metadata of another domain is a validation error (753)") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdB));
  f.AddDomain(kSdA);
  DomainStatus s = f.AfterCheck(kSdA, 1);
  CHECK_FALSE(s.valid);
  CHECK(s.code == storage_code::kMetaDataValidationError);
}

TEST_CASE("an EIO on the direct read makes the domain invalid, and it recovers") {
  std::unique_ptr<Env> posix = NewPosixEnv();
  FaultEnv faults(*posix);
  faults.AddFault({.op = Op::kDirectRead, .times = 1, .error = EIO});
  MonitorFixture f(&faults);
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.AddDomain(kSdA);
  DomainStatus bad = f.AfterCheck(kSdA, 1);
  CHECK_FALSE(bad.valid);
  CHECK(bad.code == kReadErrorCode);
  f.Tick();
  CHECK(f.AfterCheck(kSdA, 2).valid);
  CHECK(faults.Count(Op::kDirectRead) == 2);
}

TEST_CASE("a hung read is reported as a read timeout and does not delay other domains") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.WriteMetadata(kSdB, MetadataBytes(kSdB));
  f.hanging_.HangReads(f.PathOf(kSdA));
  f.AddDomain(kSdA);
  f.AddDomain(kSdB);
  f.hanging_.WaitForHung(1);
  CHECK(f.AfterCheck(kSdB, 1).valid);
  CHECK_FALSE(f.StatusOf(kSdA).actual);  // no result yet

  f.Tick();
  DomainStatus a = f.StatusOf(kSdA);
  CHECK(a.actual);
  CHECK_FALSE(a.valid);
  CHECK(a.code == kReadErrorCode);
  CHECK(a.error == kReadTimeoutMessage);
  CHECK(a.read_delay_s == 10.0);  // running for one interval
  CHECK(a.checks == 0);
  CHECK(f.AfterCheck(kSdB, 2).valid);  // B kept its schedule

  f.Tick();  // still hung: no second check is started
  CHECK(f.AfterCheck(kSdB, 3).valid);
  CHECK(f.hanging_.OpenCount(f.PathOf(kSdA)) == 1);
  CHECK(f.StatusOf(kSdA).read_delay_s == 20.0);

  f.hanging_.ReleaseReads();  // storage comes back
  DomainStatus back = f.AfterCheck(kSdA, 1);
  CHECK(back.valid);
  CHECK(back.read_delay_s == 20.0);  // the slow read's real duration

  std::vector<std::string> transitions;
  for (const DomainStatus& s : f.Changes()) {
    if (s.sd_uuid == kSdA) transitions.push_back(s.valid ? "up" : "down");
  }
  CHECK(transitions == std::vector<std::string>{"down", "up"});
}

TEST_CASE("removing a domain with a hung read does not block") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.hanging_.HangReads(f.PathOf(kSdA));
  f.AddDomain(kSdA);
  f.hanging_.WaitForHung(1);
  REQUIRE(f.monitor_->Remove(kSdA).ok());
  CHECK_FALSE(f.monitor_->IsMonitored(kSdA));
  CHECK(f.monitor_->Stats().empty());
  // Monitoring it again starts a fresh checker while the old read hangs.
  f.hanging_.HangReads("");  // new reads pass
  f.AddDomain(kSdA);
  CHECK(f.AfterCheck(kSdA, 1).valid);
  f.hanging_.ReleaseReads();  // the abandoned check ends; its result is dropped
  f.monitor_.reset();         // joins every thread
  CHECK(f.Changes().size() == 1);
}

TEST_CASE("Add, Remove and SetAcquired validate their arguments") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  CHECK(f.monitor_->Add("not-a-uuid", f.PathOf(kSdA)).code() ==
        Code::kInvalidArgument);
  CHECK(f.monitor_->Add(kSdA, "").code() == Code::kInvalidArgument);
  f.AddDomain(kSdA);
  CHECK(f.monitor_->Add(kSdA, f.PathOf(kSdA)).code() == Code::kAlreadyExists);
  CHECK(f.monitor_->Remove(kSdB).code() == Code::kNotFound);
  CHECK(f.monitor_->SetAcquired(kSdB, true).code() == Code::kNotFound);
  REQUIRE(f.monitor_->SetAcquired(kSdA, true).ok());
  CHECK(f.StatusOf(kSdA).acquired);
  REQUIRE(f.monitor_->Remove(kSdA).ok());
  CHECK_FALSE(f.monitor_->Get(kSdA).has_value());
}

TEST_CASE("Stats lists domains in UUID order with the age of the last check") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, MetadataBytes(kSdA));
  f.WriteMetadata(kSdB, MetadataBytes(kSdB));
  f.AddDomain(kSdA);
  f.AddDomain(kSdB);
  f.AfterCheck(kSdA, 1);
  f.AfterCheck(kSdB, 1);
  f.clock_.WaitForSleepers(1);
  f.clock_.Advance(seconds(3));  // before the next tick
  std::vector<DomainStatus> stats = f.monitor_->Stats();
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].sd_uuid == kSdB);  // "5f4e..." < "9d1b..."
  CHECK(stats[1].sd_uuid == kSdA);
  CHECK(stats[0].last_check_age_s == 3.0);
  CHECK(stats[1].last_check_age_s == 3.0);
}

TEST_CASE("an opaque path needs one readable block") {
  MonitorFixture f;
  f.WriteMetadata(kSdA, std::string(kCheckReadBytes, 'x'));
  f.WriteMetadata(kSdB, std::string(100, 'x'));
  REQUIRE(f.monitor_->Add(kSdA, f.PathOf(kSdA), PathContent::kOpaque).ok());
  REQUIRE(f.monitor_->Add(kSdB, f.PathOf(kSdB), PathContent::kOpaque).ok());
  DomainStatus a = f.AfterCheck(kSdA, 1);
  CHECK(a.valid);
  CHECK(a.version == -1);
  DomainStatus b = f.AfterCheck(kSdB, 1);
  CHECK_FALSE(b.valid);
  CHECK(b.code == kReadErrorCode);
}

}  // namespace
}  // namespace sanpool::monitor
