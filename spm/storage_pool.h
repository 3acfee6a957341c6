// StoragePool: this host's membership in a storage pool (reference §3.6):
// creating a pool over file and block domains (spm/pool_domain.h: the master
// may be either), connecting to it (host id, master domain, master
// version), joining every active domain's sanlock lockspace, monitoring the
// domains, and the pool-changing domain verbs the SPM runs.
//
//   StoragePool pool(deps, {.state_file = "/var/lib/sanpool/pool.state"});
//   RETURN_IF_ERROR(pool.Create({.pool_uuid = sp, .name = "dc1",
//                                .master_sd = sd, .domains = {sd}}));
//   RETURN_IF_ERROR(pool.Connect({sp, /*host_id=*/1, sd, 1}));
//   // the background thread joins lockspaces; Spm contends (spm.auto)
//
// Create: every listed domain must exist (PoolDomains: file registry, then
// block registry) and belong to no pool (380). Each domain gets
// POOL_UUID=<sp>; the master ROLE=Master and the pool keys
// (spm/pool_metadata.h): itself Active, the others Attached. Lease areas
// are formatted through Sanlock only when they are new
// (PoolDomain::LockspaceIsNew / SdmIsNew: a file domain's empty `ids` or
// short `leases`; a block domain's ids/leases LV without this domain's
// sanlock leader). A lockspace in use is never re-initialised (that would
// kill every host's delta lease). The master's metadata is written last
// (the commit point).
//
// Block domains: an active member's special LVs are mapped on this host
// (PoolDomain::Map) before its lockspace is joined or it is monitored, and
// unmapped when it stops being a member here (deactivate, detach,
// disconnect). A block master's `master` LV is the SPM's master file
// system (BlockMasterFs, mounted under `master_mount_root`).
//
// Connect: one pool per host (323). The master must be a Master of the pool
// with the given MASTER_VERSION (324; 304 when it cannot be found). Saves
// the local state (spm/local_state.h), starts monitoring the active domains
// (DomainMonitor), starts joining their lockspaces (Sanlock AddLockspace
// async) and binds the Spm. The background thread (every `join_poll`)
// re-adds lockspaces whose add failed, polls joins and reports them to the
// DomainMonitor (`acquired`). Connecting again with the same parameters is
// OK; with others 323.
//
// Disconnect: refused while this host is SPM (315) unless forced (the role
// is stopped first). Stops monitoring, leaves the lockspaces (unused only),
// removes the local state.
//
// Restore: at agent start, connects with the saved local state, so a
// restarted agent rejoins and contends without anyone calling connect.
// The storage connections the domains need are re-established by
// `deps.reconnect` (the agent: the connections saved in the same state
// file, spm/local_state.h), called before the first attempt and before
// every retry, without the pool's lock held. While a
// saved membership cannot be restored (master not reachable yet), the Spm is
// told this host is a pool member (Spm::SetPoolMember: no standalone
// writes) and the background thread retries every `restore_retry`;
// Disconnect of that pool gives up and forgets it.
//
// Domain verbs (SPM only: 654 otherwise; 309 when not connected to the
// pool; 353 when the domain is not in the pool):
//   Attach     domain in no pool (else 380) -> POOL_UUID=<sp>, lease areas
//              initialised if new, POOL_DOMAINS += sd:Attached
//   Activate   Attached -> Active; this host monitors it and joins its
//              lockspace (other hosts on their next refresh)
//   Deactivate Active -> Attached (the master: kFailedPrecondition); stops
//              monitoring and leaves its lockspace
//   Detach     Attached only (an Active domain: kFailedPrecondition) ->
//              removed from POOL_DOMAINS, POOL_UUID cleared
//
// Thread-safety: all methods are thread-safe and blocking (storage and
// sanlock I/O): call from worker threads. Operations are serialized by one
// lock; the background thread takes it only to read the domain list.
#ifndef SANPOOL_SPM_STORAGE_POOL_H_
#define SANPOOL_SPM_STORAGE_POOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block_registry.h"
#include "domains/domain_registry.h"
#include "domains/monitor/domain_monitor.h"
#include "lease/sanlock.h"
#include "lease/timeouts.h"
#include "spm/local_state.h"
#include "spm/pool_domain.h"
#include "spm/pool_metadata.h"
#include "spm/spm.h"

namespace sanpool::spm {

struct CreatePoolParams {
  std::string pool_uuid;
  std::string name;  // POOL_DESCRIPTION, at most 50 characters
  std::string master_sd;
  int64_t master_version = 1;
  std::vector<std::string> domains;  // the master is added if missing
};

struct ConnectParams {
  std::string pool_uuid;
  uint64_t host_id = 0;  // 1..2000
  std::string master_sd;
  int64_t master_version = 0;
};

// StoragePool.getInfo, oVirt's shape (reference §7.2).
struct PoolInfo {
  std::string pool_uuid;
  std::string name;
  std::string type;  // the master's TYPE: "LOCALFS", "NFS", ...
  std::string master_uuid;
  int64_t master_version = 0;
  int64_t lver = -1;
  int64_t spm_id = -1;
  int version = 5;
  std::vector<std::pair<std::string, std::string>> domains;  // sd, status
  struct Domain {
    std::string status;  // "Active" | "Attached"
    int version = -1;
    uint64_t disk_total = 0;
    uint64_t disk_free = 0;
    bool acquired = false;  // host id held in its lockspace
  };
  std::map<std::string, Domain> dominfo;
};

struct StoragePoolDeps {
  Env* env = nullptr;                        // required
  Clock* clock = nullptr;                    // required
  lease::Sanlock* sanlock = nullptr;         // required
  DomainRegistry* domains = nullptr;         // required
  // Block domains; may be null (file domains only). With it, `runner`
  // (fsck, mount of a block master) is required.
  BlockDomainRegistry* block_domains = nullptr;
  ProcessRunner* runner = nullptr;
  monitor::DomainMonitor* monitor = nullptr;  // may be null
  Spm* spm = nullptr;                        // required
  // Makes the saved storage connections again before each restore attempt
  // (Restore and its retries); may be empty. Logs its own failures; may
  // block (mounts). Not called while this pool holds its lock.
  std::function<void()> reconnect;
};

struct StoragePoolOptions {
  std::string state_file;  // agent.state_file; empty: not persisted
  // Block masters are mounted at <master_mount_root>/<sdUUID>/master
  // (the agent: <storage.run_dir>/master).
  std::string master_mount_root;
  std::string mountinfo_path = "/proc/self/mountinfo";
  lease::Seconds io_timeout = lease::kDefaultIoTimeout;
  Duration join_poll = std::chrono::seconds(1);
  Duration restore_retry = std::chrono::seconds(10);
  ThreadMode thread = ThreadMode::kRun;
};

class StoragePool {
 public:
  StoragePool(StoragePoolDeps deps, StoragePoolOptions options);
  // Stops the background thread. Does not disconnect (the membership
  // survives the agent, as the local state says).
  ~StoragePool();
  StoragePool(const StoragePool&) = delete;
  StoragePool& operator=(const StoragePool&) = delete;

  Status Create(const CreatePoolParams& params) EXCLUDES(mu_);
  Status Connect(const ConnectParams& params) EXCLUDES(mu_);
  Status Disconnect(std::string_view pool_uuid, StopMode mode) EXCLUDES(mu_);
  // Connects from the local state file; OK (and nothing done) without one.
  // On a connect failure returns it and keeps retrying in the background.
  Status Restore() EXCLUDES(mu_);
  // Re-reads the master (which must be `master_sd` at `master_version`,
  // 324) and applies the domain list: newly active domains are monitored
  // and joined, deactivated ones left.
  Status Refresh(std::string_view pool_uuid, std::string_view master_sd,
                 int64_t master_version) EXCLUDES(mu_);
  Result<PoolInfo> GetInfo(std::string_view pool_uuid) EXCLUDES(mu_);

  Status AttachDomain(std::string_view pool_uuid, std::string_view sd_uuid)
      EXCLUDES(mu_);
  Status DetachDomain(std::string_view pool_uuid, std::string_view sd_uuid)
      EXCLUDES(mu_);
  Status ActivateDomain(std::string_view pool_uuid, std::string_view sd_uuid)
      EXCLUDES(mu_);
  Status DeactivateDomain(std::string_view pool_uuid,
                          std::string_view sd_uuid) EXCLUDES(mu_);

  // The connected pool's UUID, if any.
  std::optional<std::string> connected_pool() const EXCLUDES(mu_);
  // One pass of the background thread: join lockspaces, report `acquired`.
  void Tick() EXCLUDES(mu_);

 private:
  struct Member {
    PoolDomainStatus status = PoolDomainStatus::kAttached;
    // Once the domain opened (and, block, its special LVs mapped) while
    // active; dropped (unmapped) when it stops.
    std::shared_ptr<PoolDomain> domain;
    std::optional<lease::LockspaceSpec> lockspace;
    bool monitored = false;  // added to the monitor by this pool
  };
  struct Connection {
    ConnectParams params;
    std::shared_ptr<PoolDomain> master;
    std::map<std::string, Member> members;
  };

  Result<std::shared_ptr<PoolDomain>> Open(std::string_view sd_uuid);
  // Formats new lease areas of a domain (see Create).
  Status InitLeases(PoolDomain& domain, const DomainMetadata& md);
  Result<lease::LockspaceSpec> LockspaceOf(PoolDomain& domain,
                                           const DomainMetadata& md,
                                           uint64_t host_id) const;
  Result<Connection*> Connected(std::string_view pool_uuid) REQUIRES(mu_);
  // Makes the members follow `pool` (statuses; start or stop joining and
  // monitoring).
  void ApplyDomains(Connection& c, const PoolMetadata& pool) REQUIRES(mu_);
  void StartMember(Connection& c, const std::string& sd, Member& m)
      REQUIRES(mu_);
  void StopMember(const std::string& sd, Member& m) REQUIRES(mu_);
  Status ConnectLocked(const ConnectParams& params) REQUIRES(mu_);
  Status RetryRestoreLocked() REQUIRES(mu_);
  // Runs an SPM-only change under the role; `change` returns the pool
  // metadata it wrote, which the members then follow.
  Status ChangeDomain(
      std::string_view pool_uuid, std::string_view sd_uuid,
      const std::function<Result<PoolMetadata>(Connection&)>& change)
      EXCLUDES(mu_);
  void Loop();

  const StoragePoolDeps deps_;
  const StoragePoolOptions options_;
  PoolDomains pool_domains_;
  mutable Mutex mu_;
  std::optional<Connection> connection_ GUARDED_BY(mu_);
  // A saved membership not restored yet, and when to try again.
  std::optional<LocalState> pending_ GUARDED_BY(mu_);
  SteadyTime retry_at_ GUARDED_BY(mu_);
  Waker stop_;
  std::thread thread_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_STORAGE_POOL_H_
