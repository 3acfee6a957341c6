#include "lease/fake_sanlock.h"

#include <cerrno>
#include <thread>

#include <catch2/catch.hpp>

#include "base/fake_clock.h"
#include "lease/timeouts.h"

namespace sanpool::lease {
namespace {

constexpr char kSd[] = "1f2e3d4c-0000-4000-8000-000000000001";
constexpr uint32_t kIo = 2;

// Two hosts of one pool sharing a master domain's ids and leases.
class TwoHosts {
 public:
  TwoHosts() : cluster_(clock_), host1_(cluster_), host2_(cluster_) {
    REQUIRE(host1_.WriteLockspace(Lockspace(0), kIo).ok());
    REQUIRE(host1_.WriteResource(Sdm()).ok());
  }

  static LockspaceSpec Lockspace(uint64_t host_id) {
    return {kSd, host_id, {"/sd/dom_md/ids", 0}, {}};
  }
  static ResourceSpec Sdm() {
    return {kSd, "SDM", {"/sd/dom_md/leases", 1 << 20}, {}};
  }

  void Join(FakeSanlock& host, uint64_t host_id) {
    REQUIRE(host.AddLockspace(Lockspace(host_id), kIo).ok());
    clock_.Advance(cluster_.join_delay());
    REQUIRE(State(host, host_id) == LockspaceState::kJoined);
  }
  LockspaceState State(FakeSanlock& host, uint64_t host_id) {
    Result<LockspaceState> s = host.InquireLockspace(Lockspace(host_id));
    REQUIRE(s.ok());
    return *s;
  }
  Result<uint64_t> AcquireSdm(FakeSanlock& host, AcquireOptions o = {}) {
    return host.Acquire(Sdm(), o);
  }

  FakeClock clock_;
  FakeSanlockCluster cluster_;
  FakeSanlock host1_;
  FakeSanlock host2_;
};

TEST_CASE_METHOD(TwoHosts, "joining takes the join delay on the clock",
                 "[lease][fake]") {
  REQUIRE(host1_.AddLockspace(Lockspace(1), kIo).ok());
  CHECK(State(host1_, 1) == LockspaceState::kJoining);
  clock_.Advance(cluster_.join_delay() - std::chrono::seconds(1));
  CHECK(State(host1_, 1) == LockspaceState::kJoining);
  clock_.Advance(std::chrono::seconds(1));
  CHECK(State(host1_, 1) == LockspaceState::kJoined);
  // Adding again is fine (sanlock -EEXIST).
  CHECK(host1_.AddLockspace(Lockspace(1), kIo).ok());
}

TEST_CASE_METHOD(TwoHosts, "a host id held by a live host cannot be joined",
                 "[lease][fake]") {
  Join(host1_, 1);
  REQUIRE(host2_.AddLockspace(Lockspace(1), kIo).ok());
  clock_.Advance(cluster_.join_delay());
  CHECK(State(host2_, 1) == LockspaceState::kNotJoined);
}

TEST_CASE_METHOD(TwoHosts, "two hosts contend for SDM", "[lease][fake]") {
  Join(host1_, 1);
  Join(host2_, 2);
  Result<uint64_t> lver = AcquireSdm(host1_);
  REQUIRE(lver.ok());
  CHECK(*lver == 1);

  Result<uint64_t> denied = AcquireSdm(host2_);
  REQUIRE_FALSE(denied.ok());
  CHECK(SanlockErrorOf(denied.status()) == sanlock_rv::kAcquireIdLive);
  CHECK(denied.status().storage_code() == 651);

  Result<LeaseHolder> holder = InspectLease(host2_, Sdm());
  REQUIRE(holder.ok());
  CHECK(holder->lver == 1);
  CHECK(holder->host_id == std::optional<uint64_t>(1));

  REQUIRE(host1_.Release(Sdm()).ok());
  lver = AcquireSdm(host2_);
  REQUIRE(lver.ok());
  CHECK(*lver == 2);
  Result<std::vector<HeldResource>> held = host2_.Inquire();
  REQUIRE(held.ok());
  REQUIRE(held->size() == 1);
  CHECK(held->front().name == "SDM");
  CHECK(held->front().lver == 2);
  CHECK(held->front().disks.front() == Sdm().disk);
}

TEST_CASE_METHOD(TwoHosts, "acquire needs a joined lockspace",
                 "[lease][fake]") {
  Result<uint64_t> r = AcquireSdm(host1_);
  REQUIRE_FALSE(r.ok());
  CHECK(SanlockErrorOf(r.status()) == -ENOSPC);
  CHECK(r.status().code() == Code::kFailedPrecondition);
}

TEST_CASE_METHOD(TwoHosts, "acquiring twice in one process is -EEXIST",
                 "[lease][fake]") {
  Join(host1_, 1);
  REQUIRE(AcquireSdm(host1_).ok());
  Result<uint64_t> again = AcquireSdm(host1_);
  CHECK(again.status().code() == Code::kAlreadyExists);
}

TEST_CASE_METHOD(TwoHosts, "expected lver guards against a lost race",
                 "[lease][fake]") {
  Join(host1_, 1);
  Join(host2_, 2);
  REQUIRE(AcquireSdm(host1_).ok());
  REQUIRE(host1_.Release(Sdm()).ok());
  // Host 2 reads version 1; host 1 acquires and releases again meanwhile.
  Result<ResourceOwners> seen = host2_.ReadResourceOwners(Sdm());
  REQUIRE(seen.ok());
  REQUIRE(seen->lver == 1);
  REQUIRE(AcquireSdm(host1_).ok());
  REQUIRE(host1_.Release(Sdm()).ok());
  Result<uint64_t> r = AcquireSdm(host2_, {.expected_lver = seen->lver});
  REQUIRE_FALSE(r.ok());
  CHECK(SanlockErrorOf(r.status()) == sanlock_rv::kAcquireLver);
  CHECK(r.status().code() == Code::kAborted);
  CHECK(AcquireSdm(host2_, {.expected_lver = 2}).value_or(0) == 3);
}

TEST_CASE_METHOD(TwoHosts, "expected lver 0 checks nothing (as in sanlock)",
                 "[lease][fake]") {
  Join(host1_, 1);
  REQUIRE(AcquireSdm(host1_).ok());
  REQUIRE(host1_.Release(Sdm()).ok());
  CHECK(AcquireSdm(host1_, {.expected_lver = 0}).ok());
}

TEST_CASE_METHOD(TwoHosts, "the process exiting releases its leases",
                 "[lease][fake]") {
  Join(host1_, 1);
  Join(host2_, 2);
  {
    FakeSanlock agent(cluster_, "host-with-id-3");
    Join(agent, 3);
    REQUIRE(AcquireSdm(agent).ok());
    CHECK_FALSE(AcquireSdm(host2_).ok());
  }
  CHECK(AcquireSdm(host2_).ok());
}

TEST_CASE_METHOD(TwoHosts, "a restarted agent finds its host still joined",
                 "[lease][fake]") {
  FakeSanlock first(cluster_, "hostA");
  Join(first, 3);
  FakeSanlock restarted(cluster_, "hostA");
  CHECK(State(restarted, 3) == LockspaceState::kJoined);
}

TEST_CASE_METHOD(TwoHosts,
                 "a failed host's lease is taken once it is dead",
                 "[lease][fake]") {
  Join(host1_, 1);
  Join(host2_, 2);
  std::string killed;
  host1_.SetOnKilled([&](std::string_view ls) { killed = ls; });
  REQUIRE(AcquireSdm(host1_).ok());

  host1_.FailLockspace(kSd);
  CHECK(killed == kSd);
  CHECK(host1_.Inquire()->empty());
  CHECK(State(host1_, 1) == LockspaceState::kNotJoined);
  CHECK(HostIdLiveness(host2_, kSd, 1).value() == HostLiveness::kFail);

  Result<uint64_t> nowait =
      AcquireSdm(host2_, {.owner_wait = OwnerWait::kNoWait});
  CHECK(SanlockErrorOf(nowait.status()) == sanlock_rv::kAcquireOwnedRetry);

  // kWait blocks on the clock until HostDead after the failure.
  Result<uint64_t> waited = InternalError("not run");
  std::thread t([&] { waited = AcquireSdm(host2_); });
  clock_.WaitForSleepers(1);
  clock_.Advance(HostDead(Seconds(kIo)));
  t.join();
  REQUIRE(waited.ok());
  CHECK(*waited == 2);
  CHECK(HostIdLiveness(host2_, kSd, 1).value() == HostLiveness::kDead);
}

TEST_CASE_METHOD(TwoHosts, "a lost lease disappears from inquire",
                 "[lease][fake]") {
  Join(host1_, 1);
  REQUIRE(AcquireSdm(host1_).ok());
  host1_.LoseLease(kSd, "SDM");
  CHECK(host1_.Inquire()->empty());
  CHECK(host1_.Release(Sdm()).code() == Code::kNotFound);
  Result<LeaseHolder> holder = InspectLease(host1_, Sdm());
  REQUIRE(holder.ok());
  CHECK_FALSE(holder->host_id.has_value());
}

TEST_CASE_METHOD(TwoHosts, "leaving the lockspace", "[lease][fake]") {
  Join(host1_, 1);
  Join(host2_, 2);
  REQUIRE(AcquireSdm(host1_).ok());
  Status busy = host1_.RemoveLockspace(Lockspace(1), RemoveMode::kUnusedOnly);
  CHECK(busy.code() == Code::kFailedPrecondition);
  CHECK(busy.storage_code() == 662);
  CHECK(SanlockErrorOf(busy) == -EBUSY);

  bool killed = false;
  host1_.SetOnKilled([&](std::string_view) { killed = true; });
  REQUIRE(host1_.RemoveLockspace(Lockspace(1), RemoveMode::kForce).ok());
  CHECK(killed);
  CHECK(State(host1_, 1) == LockspaceState::kNotJoined);
  CHECK(HostIdLiveness(host2_, kSd, 1).value() == HostLiveness::kFree);
  CHECK(AcquireSdm(host2_).ok());
  // Removing again is a no-op.
  CHECK(host1_.RemoveLockspace(Lockspace(1), RemoveMode::kForce).ok());
}

TEST_CASE_METHOD(TwoHosts, "injected errors fail the next calls",
                 "[lease][fake]") {
  Join(host1_, 1);
  host1_.InjectError(SanlockOp::kAcquire, sanlock_rv::kAioTimeout, 2);
  for (int i = 0; i < 2; ++i) {
    Result<uint64_t> r = AcquireSdm(host1_);
    CHECK(r.status().code() == Code::kUnavailable);
    CHECK(SanlockErrorOf(r.status()) == sanlock_rv::kAioTimeout);
  }
  CHECK(AcquireSdm(host1_).ok());
  CHECK(host1_.CallCount(SanlockOp::kAcquire) == 3);

  host1_.InjectError(SanlockOp::kInquire, -EBUSY);
  CHECK(host1_.Inquire().status().code() == Code::kUnavailable);
  CHECK(host1_.Inquire().ok());
}

TEST_CASE_METHOD(TwoHosts, "reading an unwritten or renamed lease",
                 "[lease][fake]") {
  ResourceSpec missing = Sdm();
  missing.disk.offset = 5 << 20;
  CHECK(host1_.ReadResourceOwners(missing).status().code() ==
        Code::kDataLoss);
  ResourceSpec renamed = Sdm();
  renamed.name = "other";
  CHECK(SanlockErrorOf(host1_.ReadResourceOwners(renamed).status()) ==
        sanlock_rv::kLeaderResource);
}

TEST_CASE_METHOD(TwoHosts, "get_hosts needs a joined lockspace",
                 "[lease][fake]") {
  CHECK(host1_.GetHosts(kSd, 0).status().code() ==
        Code::kFailedPrecondition);
  Join(host1_, 1);
  Join(host2_, 2);
  Result<std::vector<HostStatus>> hosts = host1_.GetHosts(kSd, 0);
  REQUIRE(hosts.ok());
  REQUIRE(hosts->size() == 2);
  CHECK(hosts->at(1).host_id == 2);
  CHECK(hosts->at(1).liveness == HostLiveness::kLive);
  CHECK(hosts->at(1).generation == 1);
}

}  // namespace
}  // namespace sanpool::lease
