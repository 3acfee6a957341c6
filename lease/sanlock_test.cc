#include "lease/sanlock.h"

#include <cerrno>

#include <catch2/catch.hpp>

#include "base/fake_clock.h"
#include "lease/fake_sanlock.h"
#include "lease/sanlock_errors.h"

namespace sanpool::lease {
namespace {

constexpr uint64_t kMiB = 1 << 20;

TEST_CASE("geometry: oVirt's block size and alignment pairs",
          "[lease][sanlock]") {
  CHECK(MaxHostsFor({512, kMiB}) == 2000);
  CHECK(MaxHostsFor({4096, kMiB}) == 250);
  CHECK(MaxHostsFor({4096, 2 * kMiB}) == 500);
  CHECK(MaxHostsFor({4096, 4 * kMiB}) == 1000);
  CHECK(MaxHostsFor({4096, 8 * kMiB}) == 2000);
  CHECK(MaxHostsFor({512, 2 * kMiB}) == 0);
  CHECK(MaxHostsFor({1024, kMiB}) == 0);
  CHECK(ValidateGeometry({512, 8 * kMiB}).code() == Code::kInvalidArgument);
}

TEST_CASE("specs are validated before reaching sanlock", "[lease][sanlock]") {
  LockspaceSpec ls{"sd", 1, {"/ids", 0}, {}};
  CHECK(ValidateLockspace(ls).ok());
  ls.host_id = 251;
  ls.geometry = {4096, kMiB};
  CHECK(ValidateLockspace(ls).code() == Code::kInvalidArgument);
  ls.geometry = {};
  CHECK(ValidateLockspace(ls).ok());
  ls.name = std::string(49, 'x');
  CHECK(ValidateLockspace(ls).code() == Code::kInvalidArgument);

  ResourceSpec r{"sd", "SDM", {"/leases", kMiB}, {}};
  CHECK(ValidateResource(r).ok());
  r.disk.offset = 4096;
  CHECK(ValidateResource(r).code() == Code::kInvalidArgument);
  r.disk.offset = kMiB;
  r.name = "";
  CHECK(ValidateResource(r).code() == Code::kInvalidArgument);
  r.name = "SDM";
  r.disk.path = "";
  CHECK(ValidateResource(r).code() == Code::kInvalidArgument);
}

TEST_CASE("InspectLease: too soon to judge counts as held (BZ1613838)",
          "[lease][sanlock]") {
  FakeClock clock;
  FakeSanlockCluster cluster(clock);
  FakeSanlock host(cluster);
  const LockspaceSpec ls{"sd", 1, {"/ids", 0}, {}};
  const ResourceSpec sdm{"sd", "SDM", {"/leases", kMiB}, {}};
  REQUIRE(host.WriteLockspace(ls, 2).ok());
  REQUIRE(host.WriteResource(sdm).ok());
  REQUIRE(host.AddLockspace(ls, 2).ok());
  clock.Advance(cluster.join_delay());
  REQUIRE(host.Acquire(sdm, {}).ok());

  host.InjectError(SanlockOp::kGetHosts, -EAGAIN);
  Result<LeaseHolder> holder = InspectLease(host, sdm);
  REQUIRE(holder.ok());
  CHECK(holder->host_id == std::optional<uint64_t>(1));

  host.InjectError(SanlockOp::kGetHosts, -ENOENT);
  CHECK(InspectLease(host, sdm).status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("HostIdLiveness of an unknown id is free", "[lease][sanlock]") {
  FakeClock clock;
  FakeSanlockCluster cluster(clock);
  FakeSanlock host(cluster);
  const LockspaceSpec ls{"sd", 1, {"/ids", 0}, {}};
  REQUIRE(host.WriteLockspace(ls, 2).ok());
  REQUIRE(host.AddLockspace(ls, 2).ok());
  clock.Advance(cluster.join_delay());
  CHECK(HostIdLiveness(host, "sd", 7).value() == HostLiveness::kFree);
  CHECK(HostIdLiveness(host, "sd", 1).value() == HostLiveness::kLive);
  CHECK(HostIdLiveness(host, "sd", 0).status().code() ==
        Code::kInvalidArgument);
  host.InjectError(SanlockOp::kGetHosts, -EAGAIN);
  CHECK(HostIdLiveness(host, "sd", 1).value() == HostLiveness::kUnknown);
  host.InjectError(SanlockOp::kGetHosts, sanlock_rv::kAioTimeout);
  CHECK(HostIdLiveness(host, "sd", 1).status().code() == Code::kUnavailable);
}

}  // namespace
}  // namespace sanpool::lease
