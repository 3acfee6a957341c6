// FakeSanlock: an in-memory Sanlock for unit tests.
//
// A FakeSanlockCluster is the shared world: the lease areas "on storage"
// (lockspaces and resources written with WriteLockspace/WriteResource) and
// every fake host's membership in every lockspace. Each FakeSanlock is one
// host, i.e. one agent process registered with its own daemon; several
// FakeSanlocks on one cluster model hosts contending for the SDM lease.
//
//   FakeClock clock;
//   FakeSanlockCluster cluster(clock);
//   FakeSanlock host1(cluster), host2(cluster);
//   host1.AddLockspace(ls1, 2);            // ls1.host_id = 1
//   clock.Advance(cluster.join_delay());   // now kJoined
//   host1.Acquire(sdm, {});                // lver 1
//   host2.Acquire(sdm, {})                 // -243 SANLK_ACQUIRE_IDLIVE
//
// What it models (and what sanlock does):
//   - joining takes join_delay() of Clock time (default
//     DeltaAcquireFreeMin(kRigIoTimeout)); InquireLockspace says kJoining
//     until then. Adding a host id that another live host holds ends as
//     kNotJoined (sanlock: -262 SANLK_HOSTID_BUSY in its log).
//   - liveness: a joined host is kLive; a host whose lockspace failed
//     (FailLockspace) is kFail until HostDead(io_timeout) after the failure,
//     then kDead; a host that left cleanly, or never joined, is kFree.
//   - Acquire follows lease/sanlock.h: free / released / owner dead or
//     restarted (generation changed) -> acquired, lver + 1; live owner ->
//     -243; owner failing -> blocks on the Clock until it is dead (kWait) or
//     -247 (kNoWait); expected_lver mismatch -> -240; not joined -> -ENOSPC.
//   - FailLockspace(ls): this host's storage is gone. Its membership fails,
//     its leases in ls vanish from its Inquire (sanlock kills the holder),
//     the OnKilled callback runs; on storage the leases stay owned until the
//     host is dead, exactly what other hosts see.
//   - LoseLease(ls, name): a lease this host holds is released behind its
//     back (oVirt's release-spm-lease.py stress helper): gone from Inquire
//     and free on storage. No callback: the SPM lease watchdog must notice.
//   - InjectError(op, rv, times): the next `times` calls of `op` on this host
//     fail with sanlock code `rv`, mapped by SanlockError like the real ones.
// Not modelled: the UNKNOWN liveness window after joining, shared leases,
// LVBs, sector/alignment checks beyond ValidateResource, I/O timing.
//
// Thread-safety: thread-safe; all hosts share the cluster's mutex. OnKilled
// callbacks run without it held, on the thread that caused the kill.
#ifndef SANPOOL_LEASE_FAKE_SANLOCK_H_
#define SANPOOL_LEASE_FAKE_SANLOCK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "lease/sanlock.h"
#include "lease/sanlock_errors.h"

namespace sanpool::lease {

class FakeSanlock;

class FakeSanlockCluster {
 public:
  // `clock` must outlive the cluster and every host on it.
  explicit FakeSanlockCluster(Clock& clock);
  FakeSanlockCluster(const FakeSanlockCluster&) = delete;
  FakeSanlockCluster& operator=(const FakeSanlockCluster&) = delete;

  Clock& clock() { return clock_; }
  Duration join_delay() const EXCLUDES(mu_);
  void set_join_delay(Duration delay) EXCLUDES(mu_);

  // The lease as "on storage": lver and owners (no liveness), for asserts.
  Result<ResourceOwners> Peek(const LeaseDisk& disk) const EXCLUDES(mu_);

 private:
  friend class FakeSanlock;

  struct Member {
    uint64_t host_id = 0;
    uint64_t generation = 0;
    std::string host;       // FakeSanlock::host_
    uint32_t io_timeout = 0;
    SteadyTime joined_at;   // when the add completes
    enum class State { kJoining, kLeft, kFailed, kRejected } state =
        State::kJoining;
    SteadyTime failed_at;
  };
  struct LockspaceArea {
    std::string name;
    uint32_t io_timeout = 0;
    std::vector<Member> members;  // one per host that ever added it
    std::map<uint64_t, uint64_t> generations;  // host id -> last generation
  };
  struct ResourceArea {
    std::string lockspace;
    std::string name;
    uint64_t lver = 0;
    bool owned = false;
    uint64_t owner_host_id = 0;
    uint64_t owner_generation = 0;
    uint64_t owner_process = 0;
  };

  Member* FindMember(const std::string& lockspace, const std::string& host)
      REQUIRES(mu_);
  const Member* FindHostLocked(const std::string& lockspace,
                               uint64_t host_id) const REQUIRES(mu_);
  bool IsJoinedLocked(const Member& m) const REQUIRES(mu_);
  HostLiveness LivenessLocked(const std::string& lockspace,
                              uint64_t host_id) const REQUIRES(mu_);

  Clock& clock_;
  mutable Mutex mu_;
  Duration join_delay_ GUARDED_BY(mu_);
  uint64_t next_process_ GUARDED_BY(mu_) = 1;
  std::map<std::string, LockspaceArea> lockspaces_ GUARDED_BY(mu_);
  // Keyed by "path:offset".
  std::map<std::string, ResourceArea> resources_ GUARDED_BY(mu_);
};

class FakeSanlock final : public Sanlock {
 public:
  // One agent process on host `host` of `cluster` (which must outlive it).
  // Lockspace membership belongs to the host (its daemon), leases to the
  // process: destroying a FakeSanlock is the agent exiting; the daemon
  // releases its leases and stays joined, and a new FakeSanlock with the same
  // `host` name is the restarted agent (AddLockspace finds it joined). An
  // empty `host` names a fresh host.
  explicit FakeSanlock(FakeSanlockCluster& cluster, std::string host = "");
  ~FakeSanlock() override;
  FakeSanlock(const FakeSanlock&) = delete;
  FakeSanlock& operator=(const FakeSanlock&) = delete;

  // --- Sanlock ---
  Status Register() override;
  Status WriteLockspace(const LockspaceSpec& spec,
                        uint32_t io_timeout_s) override;
  Status WriteResource(const ResourceSpec& spec) override;
  Status AddLockspace(const LockspaceSpec& spec,
                      uint32_t io_timeout_s) override;
  Result<LockspaceState> InquireLockspace(const LockspaceSpec& spec) override;
  Status RemoveLockspace(const LockspaceSpec& spec, RemoveMode mode) override;
  Result<uint64_t> Acquire(const ResourceSpec& spec,
                           const AcquireOptions& options) override;
  Status Release(const ResourceSpec& spec) override;
  Result<std::vector<HeldResource>> Inquire() override;
  Result<ResourceOwners> ReadResourceOwners(const ResourceSpec& spec) override;
  Result<std::vector<HostStatus>> GetHosts(std::string_view lockspace,
                                           uint64_t host_id) override;

  // --- Test controls ---
  // The next `times` calls of `op` fail with `rv` (< 0) before doing
  // anything.
  void InjectError(SanlockOp op, int rv, int times = 1) EXCLUDES(mu_);
  // This host's storage for `lockspace` is gone (see the top of the file).
  void FailLockspace(std::string_view lockspace);
  // A held lease is released behind this process's back.
  void LoseLease(std::string_view lockspace, std::string_view name);
  // Called with the lockspace name when sanlock would kill this process.
  void SetOnKilled(std::function<void(std::string_view lockspace)> fn)
      EXCLUDES(mu_);
  // Number of calls of `op` made on this host (injected failures included).
  int CallCount(SanlockOp op) const EXCLUDES(mu_);

 private:
  // Counts the call; returns the injected error for `op`, if any.
  Status TakeInjected(SanlockOp op, std::string_view what) EXCLUDES(mu_);
  void Killed(std::string_view lockspace) EXCLUDES(mu_);

  FakeSanlockCluster& cluster_;
  uint64_t id_ = 0;   // this process; set once in the constructor
  std::string host_;  // set once in the constructor

  mutable Mutex mu_;  // this host's test controls only
  std::map<SanlockOp, std::deque<int>> injected_ GUARDED_BY(mu_);
  std::map<SanlockOp, int> calls_ GUARDED_BY(mu_);
  std::function<void(std::string_view)> on_killed_ GUARDED_BY(mu_);
};

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_FAKE_SANLOCK_H_
