// Sanlock: the agent's one door to the sanlock daemon (issue 5).
//
// sanlock gives each storage domain a *lockspace* (delta leases on the
// domain's `ids` volume, one per host id: "host N is alive") and, inside it,
// *resources* (Paxos leases on `leases`: the SDM lease that makes a host SPM,
// volume leases). Layout and names follow oVirt (doc/leases.md,
// reference §3.1):
//
//   lockspace  name = sdUUID, disk = (ids, 0), host id = the pool's host id
//   SDM lease  lockspace = sdUUID, name = "SDM", disk = (leases, 1 * align)
//
// This header is the interface; SanlockLib (lease/sanlock_lib.h) implements
// it on libsanlock and FakeSanlock (lease/fake_sanlock.h) in memory for
// tests. Nothing else in sanpool includes the sanlock headers.
//
// Registration: resource leases belong to the *process* that registered with
// the daemon (sanlock_register); when that process exits, its daemon releases
// them at once. An implementation registers once, on first use, and keeps the
// connection for the life of the object; one Sanlock object per process.
// Lockspace calls (Write*, AddLockspace, GetHosts, ...) need no registration.
//
// Which daemon: one process talks to one daemon, the one whose run directory
// SANLOCK_RUN_DIR names (default /run/sanlock). Several hosts on one machine
// (the rig) are several processes with different SANLOCK_RUN_DIR.
//
// Blocking: every call may block on the daemon and on storage I/O (up to
// several io_timeouts; Acquire of a lease whose owner is failing may take
// host_dead_seconds, lease/timeouts.h). Never call from a network thread; run
// calls on a WorkerPool.
//
// Errors: every failure is a Status built by SanlockError() (lease/
// sanlock_errors.h): sanlock's negative return code is in the
// "sanlock_error" detail, the oVirt storage code (651 AcquireLockFailure,
// 661 AcquireHostIdFailure, ...) in storage_code(), and the Code follows
// base/status.h (a lease held by a live host is kFailedPrecondition, I/O
// timeouts are kUnavailable, corrupt leader records kDataLoss, ...).
//
// Thread-safety: implementations are thread-safe.
#ifndef SANPOOL_LEASE_SANLOCK_H_
#define SANPOOL_LEASE_SANLOCK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sanpool::lease {

// sanlock's limits (SANLK_NAME_LEN, SANLK_PATH_LEN - 1).
inline constexpr size_t kMaxNameLength = 48;
inline constexpr size_t kMaxPathLength = 1023;
// Host ids are 1..kMaxHostId (oVirt's lockspaces are sized for 2000 hosts
// with 512-byte sectors; 4K sectors allow fewer, see LeaseGeometry).
inline constexpr uint64_t kMaxHostId = 2000;

// Sector size and alignment of lockspace and lease areas, from the domain's
// BLOCK_SIZE and ALIGNMENT (reference §1.2, clusterlock.alignment). Valid
// pairs (sanlock_admin.h): 512 with 1 MiB (2000 hosts); 4096 with 1, 2, 4 or
// 8 MiB (250, 500, 1000, 2000 hosts).
struct LeaseGeometry {
  uint32_t block_size = 512;
  uint64_t alignment = 1 << 20;

  friend bool operator==(const LeaseGeometry&, const LeaseGeometry&) = default;
};

// OK for the pairs above, else kInvalidArgument.
Status ValidateGeometry(const LeaseGeometry& geometry);
// The largest host id the geometry supports (0 if invalid).
uint64_t MaxHostsFor(const LeaseGeometry& geometry);

// A place on storage: a file or block device path and a byte offset.
struct LeaseDisk {
  std::string path;
  uint64_t offset = 0;

  friend bool operator==(const LeaseDisk&, const LeaseDisk&) = default;
};

// One host's delta lease in a lockspace.
struct LockspaceSpec {
  std::string name;       // sdUUID; at most kMaxNameLength bytes
  uint64_t host_id = 0;   // 1..MaxHostsFor(geometry); 0 only in Write*
  LeaseDisk disk;         // (ids, 0)
  LeaseGeometry geometry;
};

// A Paxos resource lease.
struct ResourceSpec {
  std::string lockspace;  // sdUUID
  std::string name;       // "SDM" or a volume UUID
  LeaseDisk disk;         // (leases, 1 * alignment) for SDM
  LeaseGeometry geometry;
};

// OK or kInvalidArgument naming the bad field (empty or too long names and
// paths, invalid geometry, host id out of range, offset not aligned).
Status ValidateLockspace(const LockspaceSpec& spec);
Status ValidateResource(const ResourceSpec& spec);

// Where this host stands in a lockspace (sanlock_inq_lockspace).
enum class LockspaceState {
  kNotJoined,  // not added (or removal finished, or the add failed)
  kJoining,    // an add (or a remove: sanlock does not tell them apart) is
               // in progress
  kJoined,     // the delta lease is held and renewed
};
std::string_view LockspaceStateName(LockspaceState state);

// Another host's liveness as this host's daemon sees it (SANLK_HOST_*).
enum class HostLiveness {
  kUnknown,  // joined too recently to judge (about id_renewal_fail_seconds)
  kFree,     // the host id's delta lease is not held
  kLive,     // renewed within id_renewal_fail_seconds
  kFail,     // renewals stopped; the host may be killing its lease holders
  kDead,     // not renewed for host_dead_seconds: its watchdog has fired
};
std::string_view HostLivenessName(HostLiveness liveness);

struct HostStatus {
  uint64_t host_id = 0;
  uint64_t generation = 0;  // bumped each time the host id is acquired
  uint64_t timestamp = 0;   // last renewal, the renewing host's monotonic s
  uint32_t io_timeout = 0;  // seconds, as that host uses it
  HostLiveness liveness = HostLiveness::kUnknown;
};

// The owners of a resource lease as read from storage.
struct ResourceOwners {
  uint64_t lver = 0;  // the lease version: bumped by every acquire
  struct Owner {
    uint64_t host_id = 0;
    uint64_t generation = 0;
  };
  std::vector<Owner> owners;  // empty: free; one for an exclusive lease
};

// A lease this process holds (sanlock_inquire).
struct HeldResource {
  std::string lockspace;
  std::string name;
  std::vector<LeaseDisk> disks;
  uint64_t lver = 0;
};

// oVirt's two ways to leave a lockspace (releaseHostId(unused=...)).
enum class RemoveMode {
  kForce,       // the daemon kills processes still holding leases in it
  kUnusedOnly,  // refused (kFailedPrecondition, -EBUSY) while leases are held
};

// What Acquire does when the lease's owner stopped renewing but is not yet
// known dead.
enum class OwnerWait {
  kWait,    // block until the owner is dead (sanlock's default; oVirt's)
  kNoWait,  // fail at once (SANLK_ACQUIRE_OWNER_NOWAIT)
};

struct AcquireOptions {
  OwnerWait owner_wait = OwnerWait::kWait;
  // When set, acquire only if the lease's version on storage is still this
  // value (SANLK_RES_LVER): nobody else acquired it since the caller read it
  // (ReadResourceOwners().lver). Otherwise kAborted with sanlock_error -240
  // (SANLK_ACQUIRE_LVER). sanlock treats 0 as "not set": a lease never
  // acquired (lver 0) cannot be guarded this way.
  std::optional<uint64_t> expected_lver;
};

class Sanlock {
 public:
  virtual ~Sanlock() = default;

  // Registers this process with its daemon (once; later calls return OK at
  // once). Acquire/Release/Inquire register on demand, so calling this is
  // only needed to fail early. Errors: kUnavailable when the daemon is not
  // running (-ECONNREFUSED / -ENOENT).
  virtual Status Register() = 0;

  // Formats the lockspace area of `spec.disk` (max hosts from the geometry)
  // with `io_timeout_s` recorded in every delta lease. Destroys the leases
  // there. spec.host_id is ignored. Errors carry storage code 701
  // (ClusterLockInitError).
  virtual Status WriteLockspace(const LockspaceSpec& spec,
                                uint32_t io_timeout_s) = 0;
  // Formats one resource lease area (free, lver 0). 701 on failure.
  virtual Status WriteResource(const ResourceSpec& spec) = 0;

  // Starts joining the lockspace as spec.host_id and returns without waiting
  // (SANLK_ADD_ASYNC); poll InquireLockspace until kJoined. Joining takes at
  // least DeltaAcquireFreeMin (lease/timeouts.h), and HostDead if the host id
  // was held by a host that stopped without leaving. Returns OK when the add
  // started or is already in progress (-EINPROGRESS) or done (-EEXIST: oVirt
  // treats "already held" as success). kUnavailable (-EAGAIN) while the
  // lockspace is being removed. Storage code 661 (AcquireHostIdFailure).
  virtual Status AddLockspace(const LockspaceSpec& spec,
                              uint32_t io_timeout_s) = 0;
  // Whether this host holds its delta lease in the lockspace. A failed add
  // shows up as kNotJoined (sanlock keeps no failure reason).
  virtual Result<LockspaceState> InquireLockspace(
      const LockspaceSpec& spec) = 0;
  // Starts leaving the lockspace (SANLK_REM_ASYNC) and returns without
  // waiting; poll InquireLockspace until kNotJoined. OK when not joined
  // (-ENOENT) or already leaving (-EINPROGRESS). kUnusedOnly with leases
  // held: kFailedPrecondition (-EBUSY). Storage code 662.
  virtual Status RemoveLockspace(const LockspaceSpec& spec,
                                 RemoveMode mode) = 0;

  // Acquires an exclusive resource lease for this process and returns the
  // lease version it now holds (the previous version + 1).
  //   - free, or released, or its owner left the lockspace cleanly or
  //     restarted (new generation): acquired after a few I/Os;
  //   - held by a live host: kFailedPrecondition with -243
  //     (SANLK_ACQUIRE_IDLIVE) once the daemon sees the owner renew (at once
  //     when it already watches the owner, else within IdRenewal);
  //   - held by this host (another process, or this one): -244/-245;
  //   - held by a host that stopped renewing: with OwnerWait::kWait blocks
  //     until the owner is dead (up to HostDead after its last renewal); with
  //     kNoWait kUnavailable with -247 (SANLK_ACQUIRE_OWNED_RETRY).
  // Not joined to the lockspace: kFailedPrecondition (-ENOSPC from sanlock
  // 3.8: the daemon has no such lockspace; -241 SANLK_ACQUIRE_LOCKSPACE). Already held by this process: kAlreadyExists
  // (-EEXIST). Storage code 651 (AcquireLockFailure) on every failure. On
  // any error the lease is not held by this process.
  virtual Result<uint64_t> Acquire(const ResourceSpec& spec,
                                   const AcquireOptions& options) = 0;
  // Releases a lease this process holds. Not held: kNotFound (-EPERM from
  // sanlock 3.8, -ENOENT).
  // Storage code 660 (ReleaseLockFailure).
  virtual Status Release(const ResourceSpec& spec) = 0;
  // The leases this process holds (the SPM lease watchdog compares it with
  // what it believes it holds). Storage code 704 (SanlockInquireError);
  // -EBUSY (daemon busy with this client) is kUnavailable.
  virtual Result<std::vector<HeldResource>> Inquire() = 0;

  // Reads the lease from storage: its version and owners (oVirt's
  // getSpmStatus). Name mismatch on storage: kFailedPrecondition (-227
  // SANLK_LEADER_RESOURCE); uninitialised: kDataLoss (-223 magic).
  virtual Result<ResourceOwners> ReadResourceOwners(
      const ResourceSpec& spec) = 0;
  // This daemon's view of the hosts in a joined lockspace: one host when
  // host_id > 0, all hosts seen alive when 0. Not joined: kFailedPrecondition
  // (-ENOENT); too soon after joining: kUnavailable (-EAGAIN).
  virtual Result<std::vector<HostStatus>> GetHosts(std::string_view lockspace,
                                                   uint64_t host_id) = 0;
};

// Shorthands over the interface.

// Liveness of one host id (GetHosts(lockspace, host_id)); kFree when the
// daemon reports nothing for it, kUnknown when it is too soon after joining
// to judge (-EAGAIN).
Result<HostLiveness> HostIdLiveness(Sanlock& sanlock,
                                    std::string_view lockspace,
                                    uint64_t host_id);

// The SPM status oVirt derives from the SDM lease (clusterlock.inspect,
// reference §3.2 / §3.6): the lease version and the owner's host id, or
// nullopt when the lease is free or its owner is dead/free/restarted.
struct LeaseHolder {
  uint64_t lver = 0;
  std::optional<uint64_t> host_id;
};
// Reads the owners, then asks the daemon about the owner's liveness. -EAGAIN
// from GetHosts (too soon after joining) counts as "owner holds it"
// (oVirt BZ1613838).
Result<LeaseHolder> InspectLease(Sanlock& sanlock, const ResourceSpec& spec);

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_SANLOCK_H_
