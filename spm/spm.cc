#include "spm/spm.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "lease/sanlock_errors.h"
#include "spm/pool_errors.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "spm";

Status WithCode(const Status& s, int code) {
  if (s.ok() || s.storage_code() != 0) return s;
  return Status(s.code(), std::string(s.message()), code);
}

bool IsUnfinished(const TaskRecord& t) {
  return t.state != TaskState::kFinished &&
         std::find(t.tags.begin(), t.tags.end(), "spm") != t.tags.end();
}

}  // namespace

std::string_view ToString(SpmState state) {
  switch (state) {
    case SpmState::kFree:
      return "Free";
    case SpmState::kContend:
      return "Contend";
    case SpmState::kSpm:
      return "SPM";
  }
  return "Free";
}

Spm::Spm(SpmDeps deps, SpmOptions options)
    : deps_(std::move(deps)), options_(options) {
  {
    MutexLock lock(op_mu_);
    random_.seed(options_.seed != 0 ? options_.seed : std::random_device{}());
  }
  if (options_.thread == ThreadMode::kRun) {
    thread_ = std::thread([this] { Loop(); });
  }
}

Spm::~Spm() {
  stop_.Wake();
  if (thread_.joinable()) thread_.join();
  if (std::shared_ptr<const SpmPool> pool = Pool(); pool && HoldsRole()) {
    MutexLock lock(op_mu_);
    (void)StopLocked(*pool, StopMode::kForce);
  }
}

Status Spm::RequireSpm() const {
  if (is_spm_.load()) return Status::Ok();
  return member_.load() || bound() ? NotSpmError() : Status::Ok();
}

bool Spm::bound() const {
  MutexLock lock(mu_);
  return pool_ != nullptr;
}

std::shared_ptr<const SpmPool> Spm::Pool() const {
  MutexLock lock(mu_);
  return pool_;
}

SpmStatus Spm::CachedStatus() const {
  MutexLock lock(mu_);
  return status_;
}

void Spm::SetStatus(const std::string& pool_uuid, SpmStatus status,
                    bool notify) {
  {
    MutexLock lock(mu_);
    if (status_ == status) return;
    status_ = status;
  }
  if (notify && deps_.on_change) deps_.on_change(pool_uuid, status);
}

Status Spm::Bind(SpmPool pool) {
  MutexLock op(op_mu_);
  if (HoldsRole()) {
    return Status(Code::kFailedPrecondition,
                  "SPM of the current binding: stop SPM first",
                  pool_code::kStoragePoolActionError);
  }
  auto shared = std::make_shared<const SpmPool>(std::move(pool));
  {
    MutexLock lock(mu_);
    pool_ = shared;
    status_ = SpmStatus{};
  }
  contend_at_.reset();
  inquire_errors_ = 0;
  log::Info(kLog, "bound to pool", {{"pool", shared->pool_uuid},
                                     {"host_id", shared->host_id}});
  return Status::Ok();
}

Status Spm::Unbind(StopMode mode) {
  MutexLock op(op_mu_);
  std::shared_ptr<const SpmPool> pool = Pool();
  if (pool == nullptr) return Status::Ok();
  if (HoldsRole()) {
    if (mode == StopMode::kNormal) {
      return Status(Code::kFailedPrecondition,
                    "this host is the SPM of pool " + pool->pool_uuid +
                        ": stop SPM first",
                    pool_code::kStoragePoolActionError);
    }
    RETURN_IF_ERROR(StopLocked(*pool, StopMode::kForce));
  }
  MutexLock lock(mu_);
  pool_ = nullptr;
  status_ = SpmStatus{};
  contend_at_.reset();
  return Status::Ok();
}

Result<SpmStatus> Spm::Start(const SpmStartParams& params) {
  MutexLock op(op_mu_);
  std::shared_ptr<const SpmPool> pool = Pool();
  if (pool == nullptr) return PoolNotConnectedError("(none)");
  return StartLocked(*pool, params);
}

Result<SpmStatus> Spm::StartLocked(const SpmPool& pool,
                                   const SpmStartParams& params) {
  if (HoldsRole()) return CachedStatus();
  SpmStatus before = CachedStatus();
  SetStatus(pool.pool_uuid,
            {SpmState::kContend, before.lver, before.spm_id}, true);
  auto fail = [&](Status s) -> Status {
    SetStatus(pool.pool_uuid, {SpmState::kFree, before.lver, before.spm_id},
              true);
    log::Warning(kLog, "spmStart failed", {{"pool", pool.pool_uuid},
                                           {"error", s.ToString()}});
    return s;
  };
  lease::Sanlock& sanlock = *deps_.sanlock;

  Result<lease::LockspaceState> joined =
      sanlock.InquireLockspace(pool.master_lockspace);
  if (!joined.ok()) return fail(joined.status());
  if (*joined != lease::LockspaceState::kJoined) {
    return fail(Status(Code::kUnavailable,
                       "host id " + std::to_string(pool.host_id) +
                           " not acquired yet in the master lockspace (" +
                           std::string(lease::LockspaceStateName(*joined)) +
                           ")",
                       pool_code::kAcquireHostIdFailure));
  }
  lease::AcquireOptions acquire{.owner_wait = lease::OwnerWait::kNoWait};
  if (params.prev_lver >= 0 || params.prev_id >= 0) {
    Result<lease::ResourceOwners> owners = sanlock.ReadResourceOwners(pool.sdm);
    if (!owners.ok()) return fail(owners.status());
    if (params.prev_lver >= 0 &&
        owners->lver != static_cast<uint64_t>(params.prev_lver)) {
      return fail(Status(Code::kAborted,
                         "SPM lease version is " +
                             std::to_string(owners->lver) + ", not prevLver " +
                             std::to_string(params.prev_lver),
                         pool_code::kSpmParamsMismatch));
    }
    if (params.prev_id >= 0 && !owners->owners.empty() &&
        owners->owners[0].host_id != static_cast<uint64_t>(params.prev_id)) {
      return fail(Status(Code::kAborted,
                         "SPM lease is held by host " +
                             std::to_string(owners->owners[0].host_id) +
                             ", not prevID " + std::to_string(params.prev_id),
                         pool_code::kSpmParamsMismatch));
    }
    // sanlock treats 0 as "no check" (lease/sanlock.h).
    if (params.prev_lver > 0) acquire.expected_lver = params.prev_lver;
  }
  Result<uint64_t> lver = sanlock.Acquire(pool.sdm, acquire);
  if (!lver.ok()) return fail(lver.status());

  // The lease is ours: record it, prepare the master, then open the gate.
  Status s = spm::UpdatePoolMetadata(
      *pool.master_metadata, pool.pool_uuid, [&](PoolMetadata& md) {
        md.spm_id = static_cast<int>(pool.host_id);
        md.spm_lver = static_cast<int64_t>(*lver);
        return Status::Ok();
      });
  if (s.ok()) s = pool.master_fs->Prepare();
  // The previous SPM's tasks: re-listed or rolled back before any SPM verb.
  if (s.ok() && deps_.task_persistence != nullptr) {
    s = deps_.task_persistence->Activate(pool.master_fs->tasks_dir())
            .status();
  }
  if (!s.ok()) {
    if (Status r = sanlock.Release(pool.sdm); !r.ok()) {
      log::Error(kLog, "cannot release SDM after a failed start",
                 {{"error", r.ToString()}});
    }
    return fail(WithCode(s.Annotate("spmStart"), pool_code::kSpmStartError));
  }
  inquire_errors_ = 0;
  contend_at_.reset();
  SpmStatus now{SpmState::kSpm, static_cast<int64_t>(*lver),
                static_cast<int64_t>(pool.host_id)};
  is_spm_.store(true);
  SetStatus(pool.pool_uuid, now, true);
  log::Info(kLog, "became SPM", {{"pool", pool.pool_uuid},
                                 {"host_id", pool.host_id},
                                 {"lver", *lver}});
  return now;
}

size_t Spm::UnfinishedSpmTasks(bool stop_them) {
  if (deps_.tasks == nullptr) return 0;
  size_t n = 0;
  for (const TaskRecord& t : deps_.tasks->List()) {
    if (!IsUnfinished(t)) continue;
    ++n;
    if (stop_them) (void)deps_.tasks->Stop(t.id);
  }
  return n;
}

Status Spm::Stop(StopMode mode) {
  MutexLock op(op_mu_);
  std::shared_ptr<const SpmPool> pool = Pool();
  if (pool == nullptr) return Status::Ok();
  return StopLocked(*pool, mode);
}

Status Spm::StopLocked(const SpmPool& pool, StopMode mode) {
  if (!HoldsRole()) return Status::Ok();
  if (mode == StopMode::kNormal && UnfinishedSpmTasks(false) > 0) {
    return Status(Code::kFailedPrecondition,
                  "SPM tasks are in progress; stop or wait for them",
                  pool_code::kTaskInProgress);
  }
  is_spm_.store(false);  // no new SPM verb from here on
  if (deps_.task_persistence != nullptr) deps_.task_persistence->Deactivate();
  UnfinishedSpmTasks(true);
  SpmStatus before = CachedStatus();
  // Still the lease holder: the last write as SPM says nobody is SPM.
  if (Status s = spm::UpdatePoolMetadata(
          *pool.master_metadata, pool.pool_uuid,
          [](PoolMetadata& md) {
            md.spm_id = -1;
            return Status::Ok();
          });
      !s.ok()) {
    log::Warning(kLog, "cannot clear POOL_SPM_ID", {{"error", s.ToString()}});
  }
  if (Status s = pool.master_fs->Release(); !s.ok()) {
    log::Error(kLog, "cannot release master", {{"error", s.ToString()}});
  }
  if (Status s = deps_.sanlock->Release(pool.sdm); !s.ok()) {
    log::Error(kLog, "cannot release SDM lease", {{"error", s.ToString()}});
  }
  SetStatus(pool.pool_uuid, {SpmState::kFree, before.lver, -1}, true);
  log::Info(kLog, "stopped being SPM", {{"pool", pool.pool_uuid}});
  return Status::Ok();
}

Status Spm::RunAsSpm(const std::function<Status()>& fn) {
  MutexLock op(op_mu_);
  if (!HoldsRole()) return NotSpmError();
  return fn();
}

Status Spm::UpdatePoolMetadata(
    const std::function<Status(PoolMetadata&)>& change) {
  MutexLock op(op_mu_);
  if (!HoldsRole()) return NotSpmError();
  std::shared_ptr<const SpmPool> pool = Pool();
  if (pool == nullptr) return NotSpmError();
  return spm::UpdatePoolMetadata(*pool->master_metadata, pool->pool_uuid,
                                 change);
}

Result<SpmStatus> Spm::GetStatus() const {
  std::shared_ptr<const SpmPool> pool = Pool();
  if (pool == nullptr) return PoolNotConnectedError("(none)");
  SpmStatus cached = CachedStatus();
  if (cached.state == SpmState::kSpm) return cached;
  Result<lease::LeaseHolder> inspected =
      lease::InspectLease(*deps_.sanlock, pool->sdm);
  if (!inspected.ok() && lease::SanlockErrorOf(inspected.status()) == -ENOENT) {
    // This host has not joined the master lockspace yet, so the owner's
    // liveness is unknown here: report the owner the lease names.
    ASSIGN_OR_RETURN(lease::ResourceOwners owners,
                     deps_.sanlock->ReadResourceOwners(pool->sdm));
    lease::LeaseHolder named{.lver = owners.lver};
    if (!owners.owners.empty()) named.host_id = owners.owners[0].host_id;
    inspected = named;
  }
  ASSIGN_OR_RETURN(lease::LeaseHolder holder, std::move(inspected));
  SpmStatus out;
  out.state = cached.state;
  out.lver = static_cast<int64_t>(holder.lver);
  out.spm_id = holder.host_id ? static_cast<int64_t>(*holder.host_id) : -1;
  return out;
}

void Spm::Tick() {
  {
    MutexLock op(op_mu_);
    std::shared_ptr<const SpmPool> pool = Pool();
    if (pool != nullptr) {
      if (HoldsRole()) {
        WatchLocked(*pool);
      } else if (options_.auto_contend) {
        ContendLocked(*pool);
      }
    }
  }
  ticks_.fetch_add(1);
}

void Spm::WatchLocked(const SpmPool& pool) {
  lease::Sanlock& sanlock = *deps_.sanlock;
  Result<std::vector<lease::HeldResource>> held = sanlock.Inquire();
  if (!held.ok()) {
    if (held.status().code() == Code::kUnavailable &&
        ++inquire_errors_ < options_.max_inquire_errors) {
      log::Warning(kLog, "SPM lease inquiry failed; will retry",
                   {{"error", held.status().ToString()}});
      return;
    }
    LoseRoleLocked(pool, "cannot inquire the SDM lease: " +
                             held.status().ToString());
    return;
  }
  inquire_errors_ = 0;
  bool found = std::any_of(
      held->begin(), held->end(), [&](const lease::HeldResource& h) {
        return h.lockspace == pool.sdm.lockspace && h.name == pool.sdm.name &&
               h.disks == std::vector<lease::LeaseDisk>{pool.sdm.disk};
      });
  if (!found) {
    LoseRoleLocked(pool, "SDM lease was lost");
    return;
  }
  Result<lease::LockspaceState> ls =
      sanlock.InquireLockspace(pool.master_lockspace);
  if (ls.ok() && *ls != lease::LockspaceState::kJoined) {
    LoseRoleLocked(pool, "master lockspace is " +
                             std::string(lease::LockspaceStateName(*ls)));
  }
}

void Spm::LoseRoleLocked(const SpmPool& pool, const std::string& reason) {
  is_spm_.store(false);  // first: every SPM verb fails from here on
  if (deps_.task_persistence != nullptr) deps_.task_persistence->Deactivate();
  log::Error(kLog, "lost the SPM role", {{"pool", pool.pool_uuid},
                                         {"reason", reason}});
  UnfinishedSpmTasks(true);
  if (Status s = pool.master_fs->Release(); !s.ok()) {
    log::Error(kLog, "cannot release master", {{"error", s.ToString()}});
  }
  // Not on storage any more for us; tell the daemon anyway (not held is
  // fine). No metadata write: we are not the SPM.
  (void)deps_.sanlock->Release(pool.sdm);
  SpmStatus before = CachedStatus();
  SetStatus(pool.pool_uuid, {SpmState::kFree, before.lver, -1}, true);
  contend_at_.reset();
}

void Spm::ContendLocked(const SpmPool& pool) {
  lease::Sanlock& sanlock = *deps_.sanlock;
  Result<lease::LockspaceState> joined =
      sanlock.InquireLockspace(pool.master_lockspace);
  if (!joined.ok() || *joined != lease::LockspaceState::kJoined) {
    contend_at_.reset();
    return;
  }
  Result<lease::LeaseHolder> holder = lease::InspectLease(sanlock, pool.sdm);
  if (!holder.ok()) {
    log::Debug(kLog, "cannot inspect the SDM lease",
               {{"error", holder.status().ToString()}});
    contend_at_.reset();
    return;
  }
  SteadyTime now = deps_.clock->SteadyNow();
  if (holder->host_id.has_value()) {
    SetStatus(pool.pool_uuid,
              {SpmState::kFree, static_cast<int64_t>(holder->lver),
               static_cast<int64_t>(*holder->host_id)},
              false);
    contend_at_.reset();
    ProbeHeldLocked(pool, now);
    return;
  }
  probe_at_.reset();
  if (!contend_at_) {
    auto max = std::chrono::duration_cast<std::chrono::milliseconds>(
                   options_.backoff_max)
                   .count();
    std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(max, 0));
    contend_at_ = now + std::chrono::milliseconds(pick(random_));
  }
  if (now < *contend_at_) return;
  contend_at_.reset();
  log::Info(kLog, "SDM lease is free; contending", {{"pool", pool.pool_uuid}});
  (void)StartLocked(pool, SpmStartParams{});
}

// sanlock does not rewrite the leader when the owner releases a lease whose
// leader another host wrote (that host's ballot committed the owner's
// request: two hosts contended at once); the owner only marks its own
// dblock RELEASED. read_resource_owners still names the owner, and while
// its daemon lives (an agent killed, its daemon not) InspectLease says
// "held" forever. sanlock's own acquire reads the dblock: so now and then
// try it. A live holder's lease is refused at once (no owner wait); a
// released one is granted, and given back at once so the lease reads free
// and the hosts contend as usual (with their back-off) on the next ticks.
void Spm::ProbeHeldLocked(const SpmPool& pool, SteadyTime now) {
  if (options_.held_probe_interval <= Duration::zero()) return;
  if (!probe_at_) {
    probe_at_ = now + options_.held_probe_interval;
    return;
  }
  if (now < *probe_at_) return;
  probe_at_ = now + options_.held_probe_interval;
  lease::Sanlock& sanlock = *deps_.sanlock;
  Result<uint64_t> lver = sanlock.Acquire(
      pool.sdm, lease::AcquireOptions{.owner_wait = lease::OwnerWait::kNoWait});
  if (!lver.ok()) {
    log::Debug(kLog, "SDM lease is held",
               {{"pool", pool.pool_uuid}, {"error", lver.status().ToString()}});
    return;
  }
  log::Warning(kLog, "SDM lease looked held but was released; freeing it",
               {{"pool", pool.pool_uuid}, {"lver", *lver}});
  if (Status s = sanlock.Release(pool.sdm); !s.ok()) {
    log::Error(kLog, "cannot release the probed SDM lease",
               {{"error", s.ToString()}});
  }
  probe_at_.reset();
}

Duration Spm::NextWait() const {
  if (HoldsRole()) {
    return std::chrono::duration_cast<Duration>(
        lease::SpmLeaseCheckInterval(options_.io_timeout));
  }
  return options_.contend_interval;
}

void Spm::Loop() {
  while (true) {
    Duration wait = NextWait();
    // A pending back-off shorter than the interval wakes the loop earlier.
    {
      MutexLock op(op_mu_);
      if (contend_at_) {
        Duration left = *contend_at_ - deps_.clock->SteadyNow();
        wait = std::clamp(left, Duration::zero(), wait);
      }
    }
    if (deps_.clock->SleepFor(wait, &stop_) == SleepResult::kWoken) return;
    Tick();
  }
}

}  // namespace sanpool::spm
