// Spm: the lease-backed SpmRole. This host is the Storage Pool Manager of
// its connected pool while it holds the pool's SDM lease (the "SDM" resource
// at 1 x alignment in the master domain's `leases`, reference §3.1), and
// only then (spm/role.h states the rule for hosts without a pool).
//
//   Spm spm({.sanlock = &sanlock, .clock = &clock, .tasks = &tasks,
//            .on_change = publish},
//           {.io_timeout = lease::kDefaultIoTimeout});
//   spm.Bind(pool_binding);             // StoragePool.connect
//   spm.Start({.prev_id = -1, .prev_lver = -1});   // StoragePool.spmStart
//
// Becoming SPM (Start, reference §3.3): the master lockspace must be joined
// (else kUnavailable 661); with prev_lver >= 0 the lease version on storage
// must still be prev_lver and with prev_id >= 0 the lease must be free or
// held by prev_id (else kAborted 657 SpmParamsMismatch: someone became SPM
// since the caller looked); the SDM lease is acquired without waiting for a
// failing owner (651 while its owner is alive or not yet dead); then
// POOL_SPM_ID / POOL_SPM_LVER are written (the lver is the one sanlock
// returned), the master file system prepared (MasterFs), and only then
// RequireSpm() passes. A failure after the acquire releases the lease.
//
// Giving it up (Stop, §3.4): refused with kFailedPrecondition 403 while SPM
// tasks are queued or running, unless forced (they are stopped then). The
// role flips first, then POOL_SPM_ID=-1 is written (the lease is still
// held), the master released, the lease released.
//
// Automatic failover (`spm.auto`): a background thread looks at the pool
// every `contend_interval` while this host is not SPM. When the master
// lockspace is joined and the SDM lease is free (no owner, or its owner dead
// or restarted: lease::InspectLease), it picks a random back-off in
// [0, backoff_max] and, if the lease is still free then, runs Start. Two
// hosts that pick the same moment are split by sanlock: one acquire wins,
// the other gets 651 and sees the winner next time. A lease that looks held
// by a live host is tried every `held_probe_interval` (no owner wait): sanlock
// may leave a released lease's leader naming its last owner (the loser of
// such a split wrote it), which only its acquire sees through; a lease got
// that way is released at once and then contended for as usual.
//
// Lease watchdog (oVirt's spwd, §3.5): while SPM, the same thread checks
// every SpmLeaseCheckInterval(io_timeout) that sanlock still lists the SDM
// lease for this process (Inquire) and that the master lockspace is joined.
// On loss (or more than `max_inquire_errors` failed inquiries in a row) the
// role flips to not-SPM FIRST (RequireSpm fails with 654 from then on), then
// running SPM tasks are stopped and the master released; nothing is written
// to storage, and nothing is written as SPM again until a new Start wins the
// lease. With the real daemon sanlock also kills this process when its
// lockspace fails (lease/timeouts.h IdRenewalFail); the watchdog covers a
// lease released behind the agent's back and the time before the kill.
//
// Notifications: `on_change(pool_uuid, status)` runs after every change of
// this host's role (Contend, SPM, Free), with the operation lock held: it
// must be quick and must not call into the Spm.
//
// Thread-safety: all methods are thread-safe. RequireSpm/IsSpm/CachedStatus
// never block; Start/Stop/Bind/Unbind/RunAsSpm/Tick are serialized by one
// operation lock and block on sanlock and storage (worker threads only).
// GetStatus blocks on sanlock without that lock.
#ifndef SANPOOL_SPM_SPM_H_
#define SANPOOL_SPM_SPM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "lease/sanlock.h"
#include "lease/timeouts.h"
#include "spm/master_fs.h"
#include "spm/pool_metadata.h"
#include "spm/role.h"
#include "spm/task_manager.h"
#include "spm/task_recovery.h"

namespace sanpool::spm {

// This host's role in its pool (getSpmStatus "spmStatus").
enum class SpmState { kFree, kContend, kSpm };
std::string_view ToString(SpmState state);  // "Free", "Contend", "SPM"

struct SpmStatus {
  SpmState state = SpmState::kFree;
  int64_t lver = -1;    // SDM lease version (spmLver); -1 unknown
  int64_t spm_id = -1;  // host id of the pool's SPM; -1 none
  bool operator==(const SpmStatus&) const = default;
};

// What a connected pool gives the SPM (StoragePool builds it).
struct SpmPool {
  std::string pool_uuid;
  uint64_t host_id = 0;
  lease::LockspaceSpec master_lockspace;  // host_id set
  lease::ResourceSpec sdm;
  std::shared_ptr<DomainMetadataStore> master_metadata;
  std::shared_ptr<MasterFs> master_fs;
};

// Whether a component runs its own background thread or the test drives it
// through Tick().
enum class ThreadMode { kRun, kManual };

enum class StopMode { kNormal, kForce };

struct SpmOptions {
  bool auto_contend = true;  // spm.auto
  // Upper bound of the random wait before contending (spm.backoff_max_ms).
  Duration backoff_max = std::chrono::milliseconds(1000);
  // How often a non-SPM host looks at the SDM lease.
  Duration contend_interval = std::chrono::seconds(1);
  // How often a non-SPM host tries the SDM lease although it looks held by
  // a live host (a released lease whose leader still names its last owner,
  // see ContendLocked); zero: never.
  Duration held_probe_interval = std::chrono::seconds(10);
  // sanlock io_timeout; the watchdog interval derives from it.
  lease::Seconds io_timeout = lease::kDefaultIoTimeout;
  // Consecutive failed inquiries (sanlock busy) tolerated (oVirt: 3).
  int max_inquire_errors = 3;
  uint64_t seed = 0;  // back-off randomness; 0 = from std::random_device
  ThreadMode thread = ThreadMode::kRun;
};

struct SpmDeps {
  lease::Sanlock* sanlock = nullptr;  // required
  Clock* clock = nullptr;             // required
  TaskManager* tasks = nullptr;       // SPM tasks; may be null
  // Persistent tasks (issue 5); may be null. Activated on the master's
  // tasks dir when becoming SPM (a failure fails the start), deactivated
  // first thing when the role is lost or given up.
  SpmTaskPersistence* task_persistence = nullptr;
  std::function<void(const std::string& pool_uuid, const SpmStatus& status)>
      on_change;
};

struct SpmStartParams {
  int64_t prev_id = -1;    // -1: no check
  int64_t prev_lver = -1;  // -1: no check
};

class Spm final : public SpmRole {
 public:
  // Pointees of `deps` must outlive the Spm. Starts the background thread
  // unless options.thread is kManual.
  Spm(SpmDeps deps, SpmOptions options);
  // Stops the thread; as SPM, gives the role up (Stop(kForce)) so another
  // host can take over at once.
  ~Spm() override;
  Spm(const Spm&) = delete;
  Spm& operator=(const Spm&) = delete;

  // --- SpmRole (the rule in spm/role.h) ---
  // Bound to a pool, or a pool member not bound yet (SetPoolMember): OK only
  // as its SPM (else 654). Neither: OK (a host outside any pool).
  Status RequireSpm() const override;
  bool IsSpm() const override { return RequireSpm().ok(); }
  // The bound pool's UUID; "" when not bound.
  std::string PoolUuid() const override EXCLUDES(mu_) {
    std::shared_ptr<const SpmPool> pool = Pool();
    return pool ? pool->pool_uuid : std::string();
  }

  // True only while this host holds the SDM lease of its pool.
  bool HoldsRole() const { return is_spm_.load(); }
  bool bound() const EXCLUDES(mu_);
  // This host belongs to a pool whose connection is pending (a saved
  // membership not restored yet): refuse standalone writes meanwhile.
  void SetPoolMember(bool member) { member_.store(member); }

  // StoragePool.connect: from now on this host contends (spm.auto) and may
  // Start. REQUIRES: pool fields set. A second Bind replaces an unused one;
  // kFailedPrecondition while SPM of another binding.
  Status Bind(SpmPool pool) EXCLUDES(op_mu_, mu_);
  // StoragePool.disconnect: as SPM refused (kFailedPrecondition 315) unless
  // kForce, which stops the role first. OK when not bound.
  Status Unbind(StopMode mode) EXCLUDES(op_mu_, mu_);

  // spmStart (see the file comment). Idempotent as SPM (returns the
  // status). Not bound: 309.
  Result<SpmStatus> Start(const SpmStartParams& params)
      EXCLUDES(op_mu_, mu_);
  // spmStop (see the file comment). OK when not SPM.
  Status Stop(StopMode mode) EXCLUDES(op_mu_, mu_);

  // getSpmStatus: as SPM its own status; otherwise the lease read from
  // storage (state Free or Contend, lver and owner; before this host joined
  // the master lockspace, the owner the lease names, liveness unchecked).
  // Not bound: 309.
  Result<SpmStatus> GetStatus() const EXCLUDES(mu_);
  // The last known status, without I/O.
  SpmStatus CachedStatus() const EXCLUDES(mu_);

  // Runs `fn` only while SPM, serialized with Start/Stop and the watchdog,
  // so a write inside `fn` never runs after a lease loss was noticed.
  // 654 when not SPM (not bound included).
  Status RunAsSpm(const std::function<Status()>& fn) EXCLUDES(op_mu_);
  // RunAsSpm + UpdatePoolMetadata on the bound master.
  Status UpdatePoolMetadata(
      const std::function<Status(PoolMetadata&)>& change) EXCLUDES(op_mu_);

  // One pass of the background thread: the watchdog check as SPM, else the
  // contender step (when spm.auto). Tests in ThreadMode::kManual call it.
  void Tick() EXCLUDES(op_mu_, mu_);
  // Ticks run so far.
  uint64_t ticks() const { return ticks_.load(); }

 private:
  std::shared_ptr<const SpmPool> Pool() const EXCLUDES(mu_);
  void SetStatus(const std::string& pool_uuid, SpmStatus status,
                 bool notify) EXCLUDES(mu_);
  Result<SpmStatus> StartLocked(const SpmPool& pool,
                                const SpmStartParams& params)
      REQUIRES(op_mu_) EXCLUDES(mu_);
  Status StopLocked(const SpmPool& pool, StopMode mode) REQUIRES(op_mu_)
      EXCLUDES(mu_);
  void WatchLocked(const SpmPool& pool) REQUIRES(op_mu_) EXCLUDES(mu_);
  void ContendLocked(const SpmPool& pool) REQUIRES(op_mu_) EXCLUDES(mu_);
  // Tries a lease that looks held by a live host (see spm.cc).
  void ProbeHeldLocked(const SpmPool& pool, SteadyTime now) REQUIRES(op_mu_);
  void LoseRoleLocked(const SpmPool& pool, const std::string& reason)
      REQUIRES(op_mu_) EXCLUDES(mu_);
  // Stops queued/running tasks tagged "spm"; returns how many were unfinished.
  size_t UnfinishedSpmTasks(bool stop_them);
  Duration NextWait() const EXCLUDES(op_mu_);
  void Loop();

  const SpmDeps deps_;
  const SpmOptions options_;

  // Lock-free answer for RequireSpm: set last when becoming SPM, cleared
  // first when losing or giving up the role.
  std::atomic<bool> is_spm_{false};
  std::atomic<uint64_t> ticks_{0};
  std::atomic<bool> member_{false};

  Mutex op_mu_;  // serializes role changes and SPM writes; before mu_
  std::optional<SteadyTime> contend_at_ GUARDED_BY(op_mu_);
  // When the next held-lease probe may run (ContendLocked).
  std::optional<SteadyTime> probe_at_ GUARDED_BY(op_mu_);
  int inquire_errors_ GUARDED_BY(op_mu_) = 0;
  std::mt19937_64 random_ GUARDED_BY(op_mu_);

  mutable Mutex mu_;  // short: the binding and the status
  std::shared_ptr<const SpmPool> pool_ GUARDED_BY(mu_);
  SpmStatus status_ GUARDED_BY(mu_);

  Waker stop_;
  std::thread thread_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_SPM_H_
