#include "lease/fake_sanlock.h"

#include <cerrno>
#include <utility>

#include "lease/timeouts.h"

namespace sanpool::lease {
namespace {

std::string DiskKey(const LeaseDisk& disk) {
  return disk.path + ":" + std::to_string(disk.offset);
}

Seconds IoTimeout(uint32_t io_timeout_s) {
  return Seconds(io_timeout_s == 0 ? kDefaultIoTimeout.count()
                                   : io_timeout_s);
}

}  // namespace

// --- FakeSanlockCluster ---

FakeSanlockCluster::FakeSanlockCluster(Clock& clock)
    : clock_(clock), join_delay_(DeltaAcquireFreeMin(kRigIoTimeout)) {}

Duration FakeSanlockCluster::join_delay() const {
  MutexLock lock(mu_);
  return join_delay_;
}

void FakeSanlockCluster::set_join_delay(Duration delay) {
  MutexLock lock(mu_);
  join_delay_ = delay;
}

Result<ResourceOwners> FakeSanlockCluster::Peek(const LeaseDisk& disk) const {
  MutexLock lock(mu_);
  auto it = resources_.find(DiskKey(disk));
  if (it == resources_.end()) return NotFoundError("no lease at " + DiskKey(disk));
  ResourceOwners out;
  out.lver = it->second.lver;
  if (it->second.owned) {
    out.owners.push_back(
        {it->second.owner_host_id, it->second.owner_generation});
  }
  return out;
}

FakeSanlockCluster::Member* FakeSanlockCluster::FindMember(
    const std::string& lockspace, const std::string& host) {
  auto it = lockspaces_.find(lockspace);
  if (it == lockspaces_.end()) return nullptr;
  for (Member& m : it->second.members) {
    if (m.host == host) return &m;
  }
  return nullptr;
}

bool FakeSanlockCluster::IsJoinedLocked(const Member& m) const {
  return m.state == Member::State::kJoining &&
         clock_.SteadyNow() >= m.joined_at;
}

const FakeSanlockCluster::Member* FakeSanlockCluster::FindHostLocked(
    const std::string& lockspace, uint64_t host_id) const {
  auto it = lockspaces_.find(lockspace);
  if (it == lockspaces_.end()) return nullptr;
  const Member* found = nullptr;
  for (const Member& m : it->second.members) {
    if (m.host_id != host_id) continue;
    // A live holder of the id wins over a failed or departed one.
    if (m.state == Member::State::kJoining) return &m;
    if (m.state == Member::State::kFailed || found == nullptr) found = &m;
  }
  return found;
}

HostLiveness FakeSanlockCluster::LivenessLocked(const std::string& lockspace,
                                                uint64_t host_id) const {
  const Member* m = FindHostLocked(lockspace, host_id);
  if (m == nullptr) return HostLiveness::kFree;
  switch (m->state) {
    case Member::State::kJoining:
      return IsJoinedLocked(*m) ? HostLiveness::kLive : HostLiveness::kFree;
    case Member::State::kFailed:
      return clock_.SteadyNow() >=
                     m->failed_at + HostDead(IoTimeout(m->io_timeout))
                 ? HostLiveness::kDead
                 : HostLiveness::kFail;
    case Member::State::kLeft:
    case Member::State::kRejected:
      return HostLiveness::kFree;
  }
  return HostLiveness::kFree;
}

// --- FakeSanlock ---

FakeSanlock::FakeSanlock(FakeSanlockCluster& cluster, std::string host)
    : cluster_(cluster) {
  MutexLock lock(cluster_.mu_);
  id_ = cluster_.next_process_++;
  host_ = host.empty() ? "host-" + std::to_string(id_) : std::move(host);
}

FakeSanlock::~FakeSanlock() {
  MutexLock lock(cluster_.mu_);
  for (auto& [key, r] : cluster_.resources_) {
    if (r.owned && r.owner_process == id_) r.owned = false;
  }
}

Status FakeSanlock::TakeInjected(SanlockOp op, std::string_view what) {
  MutexLock lock(mu_);
  ++calls_[op];
  auto it = injected_.find(op);
  if (it == injected_.end() || it->second.empty()) return Status::Ok();
  int rv = it->second.front();
  it->second.pop_front();
  return SanlockError(op, rv, what);
}

void FakeSanlock::InjectError(SanlockOp op, int rv, int times) {
  MutexLock lock(mu_);
  for (int i = 0; i < times; ++i) injected_[op].push_back(rv);
}

void FakeSanlock::SetOnKilled(std::function<void(std::string_view)> fn) {
  MutexLock lock(mu_);
  on_killed_ = std::move(fn);
}

int FakeSanlock::CallCount(SanlockOp op) const {
  MutexLock lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

void FakeSanlock::Killed(std::string_view lockspace) {
  std::function<void(std::string_view)> fn;
  {
    MutexLock lock(mu_);
    fn = on_killed_;
  }
  if (fn) fn(lockspace);
}

Status FakeSanlock::Register() {
  return TakeInjected(SanlockOp::kRegister, "");
}

Status FakeSanlock::WriteLockspace(const LockspaceSpec& spec,
                                   uint32_t io_timeout_s) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kWriteLockspace, spec.name));
  RETURN_IF_ERROR(ValidateLockspace(spec));
  MutexLock lock(cluster_.mu_);
  FakeSanlockCluster::LockspaceArea area;
  area.name = spec.name;
  area.io_timeout = io_timeout_s;
  cluster_.lockspaces_[spec.name] = std::move(area);
  return Status::Ok();
}

Status FakeSanlock::WriteResource(const ResourceSpec& spec) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kWriteResource, spec.name));
  RETURN_IF_ERROR(ValidateResource(spec));
  MutexLock lock(cluster_.mu_);
  FakeSanlockCluster::ResourceArea area;
  area.lockspace = spec.lockspace;
  area.name = spec.name;
  cluster_.resources_[DiskKey(spec.disk)] = std::move(area);
  return Status::Ok();
}

Status FakeSanlock::AddLockspace(const LockspaceSpec& spec,
                                 uint32_t io_timeout_s) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kAddLockspace, spec.name));
  RETURN_IF_ERROR(ValidateLockspace(spec));
  if (spec.host_id == 0) return InvalidArgumentError("host id 0");
  using State = FakeSanlockCluster::Member::State;
  MutexLock lock(cluster_.mu_);
  auto ls = cluster_.lockspaces_.find(spec.name);
  if (ls == cluster_.lockspaces_.end()) {
    // sanlock starts the add, then fails reading the ids area.
    return SanlockError(SanlockOp::kAddLockspace, sanlock_rv::kLeaderMagic,
                        spec.name);
  }
  FakeSanlockCluster::Member* mine = cluster_.FindMember(spec.name, host_);
  if (mine != nullptr && mine->state == State::kJoining) {
    return Status::Ok();  // -EEXIST / -EINPROGRESS
  }
  FakeSanlockCluster::Member m;
  m.host = host_;
  m.host_id = spec.host_id;
  m.io_timeout = io_timeout_s;
  const FakeSanlockCluster::Member* other =
      cluster_.FindHostLocked(spec.name, spec.host_id);
  if (other != nullptr && other->host != host_ &&
      other->state == State::kJoining) {
    m.state = State::kRejected;  // SANLK_HOSTID_BUSY, seen as not joined
  } else {
    m.generation = ++ls->second.generations[spec.host_id];
    m.joined_at = cluster_.clock_.SteadyNow() + cluster_.join_delay_;
  }
  if (mine != nullptr) {
    *mine = std::move(m);
  } else {
    ls->second.members.push_back(std::move(m));
  }
  return Status::Ok();
}

Result<LockspaceState> FakeSanlock::InquireLockspace(
    const LockspaceSpec& spec) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kInquireLockspace, spec.name));
  MutexLock lock(cluster_.mu_);
  const FakeSanlockCluster::Member* m = cluster_.FindMember(spec.name, host_);
  if (m == nullptr || m->host_id != spec.host_id ||
      m->state != FakeSanlockCluster::Member::State::kJoining) {
    return LockspaceState::kNotJoined;
  }
  return cluster_.IsJoinedLocked(*m) ? LockspaceState::kJoined
                                     : LockspaceState::kJoining;
}

Status FakeSanlock::RemoveLockspace(const LockspaceSpec& spec,
                                    RemoveMode mode) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kRemoveLockspace, spec.name));
  bool killed = false;
  {
    MutexLock lock(cluster_.mu_);
    FakeSanlockCluster::Member* m = cluster_.FindMember(spec.name, host_);
    if (m == nullptr ||
        m->state != FakeSanlockCluster::Member::State::kJoining) {
      return Status::Ok();  // -ENOENT: nothing to leave
    }
    // Leases of any process on this host in the lockspace.
    std::vector<FakeSanlockCluster::ResourceArea*> used;
    for (auto& [key, r] : cluster_.resources_) {
      if (r.owned && r.lockspace == spec.name &&
          r.owner_host_id == m->host_id &&
          r.owner_generation == m->generation) {
        used.push_back(&r);
      }
    }
    if (!used.empty() && mode == RemoveMode::kUnusedOnly) {
      return SanlockError(SanlockOp::kRemoveLockspace, -EBUSY, spec.name);
    }
    for (FakeSanlockCluster::ResourceArea* r : used) {
      killed = killed || r->owner_process == id_;
      r->owned = false;
    }
    m->state = FakeSanlockCluster::Member::State::kLeft;
  }
  if (killed) Killed(spec.name);
  return Status::Ok();
}

Result<uint64_t> FakeSanlock::Acquire(const ResourceSpec& spec,
                                      const AcquireOptions& options) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kAcquire, spec.name));
  RETURN_IF_ERROR(ValidateResource(spec));
  auto fail = [&](int rv) {
    return SanlockError(SanlockOp::kAcquire, rv, spec.name);
  };
  while (true) {
    SteadyTime wait_until;
    {
      MutexLock lock(cluster_.mu_);
      const FakeSanlockCluster::Member* me =
          cluster_.FindMember(spec.lockspace, host_);
      if (me == nullptr || !cluster_.IsJoinedLocked(*me)) {
        return fail(-ENOSPC);  // what sanlock 3.8 answers
      }
      auto it = cluster_.resources_.find(DiskKey(spec.disk));
      if (it == cluster_.resources_.end()) {
        return fail(sanlock_rv::kLeaderMagic);
      }
      FakeSanlockCluster::ResourceArea& r = it->second;
      if (r.lockspace != spec.lockspace) {
        return fail(sanlock_rv::kLeaderLockspace);
      }
      if (r.name != spec.name) return fail(sanlock_rv::kLeaderResource);
      if (options.expected_lver.value_or(0) != 0 &&
          *options.expected_lver != r.lver) {
        return fail(sanlock_rv::kAcquireLver);
      }
      bool take = !r.owned;
      if (r.owned) {
        if (r.owner_process == id_) return fail(-EEXIST);
        const auto& gens =
            cluster_.lockspaces_[spec.lockspace].generations;
        auto g = gens.find(r.owner_host_id);
        const bool restarted =
            g == gens.end() || g->second != r.owner_generation;
        const HostLiveness owner =
            cluster_.LivenessLocked(spec.lockspace, r.owner_host_id);
        if (restarted || owner == HostLiveness::kDead ||
            owner == HostLiveness::kFree) {
          take = true;
        } else if (owner == HostLiveness::kFail) {
          if (options.owner_wait == OwnerWait::kNoWait) {
            return fail(sanlock_rv::kAcquireOwnedRetry);
          }
          const FakeSanlockCluster::Member* m =
              cluster_.FindHostLocked(spec.lockspace, r.owner_host_id);
          wait_until = m->failed_at + HostDead(IoTimeout(m->io_timeout));
        } else if (r.owner_host_id == me->host_id) {
          return fail(sanlock_rv::kAcquireOther);
        } else {
          return fail(sanlock_rv::kAcquireIdLive);
        }
      }
      if (take) {
        r.owned = true;
        r.owner_host_id = me->host_id;
        r.owner_generation = me->generation;
        r.owner_process = id_;
        return ++r.lver;
      }
    }
    // The owner is failing: sanlock waits until it is dead.
    cluster_.clock_.SleepUntil(wait_until);
  }
}

Status FakeSanlock::Release(const ResourceSpec& spec) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kRelease, spec.name));
  MutexLock lock(cluster_.mu_);
  auto it = cluster_.resources_.find(DiskKey(spec.disk));
  if (it == cluster_.resources_.end() || !it->second.owned ||
      it->second.owner_process != id_ || it->second.name != spec.name) {
    return SanlockError(SanlockOp::kRelease, -ENOENT, spec.name);
  }
  it->second.owned = false;
  return Status::Ok();
}

Result<std::vector<HeldResource>> FakeSanlock::Inquire() {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kInquire, ""));
  MutexLock lock(cluster_.mu_);
  std::vector<HeldResource> out;
  for (const auto& [key, r] : cluster_.resources_) {
    if (!r.owned || r.owner_process != id_) continue;
    HeldResource h;
    h.lockspace = r.lockspace;
    h.name = r.name;
    h.lver = r.lver;
    const size_t colon = key.rfind(':');
    h.disks.push_back(
        {key.substr(0, colon), std::stoull(key.substr(colon + 1))});
    out.push_back(std::move(h));
  }
  return out;
}

Result<ResourceOwners> FakeSanlock::ReadResourceOwners(
    const ResourceSpec& spec) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kReadResourceOwners, spec.name));
  MutexLock lock(cluster_.mu_);
  auto it = cluster_.resources_.find(DiskKey(spec.disk));
  if (it == cluster_.resources_.end()) {
    return SanlockError(SanlockOp::kReadResourceOwners,
                        sanlock_rv::kLeaderMagic, spec.name);
  }
  if (it->second.name != spec.name) {
    return SanlockError(SanlockOp::kReadResourceOwners,
                        sanlock_rv::kLeaderResource, spec.name);
  }
  ResourceOwners out;
  out.lver = it->second.lver;
  if (it->second.owned) {
    out.owners.push_back(
        {it->second.owner_host_id, it->second.owner_generation});
  }
  return out;
}

Result<std::vector<HostStatus>> FakeSanlock::GetHosts(
    std::string_view lockspace, uint64_t host_id) {
  RETURN_IF_ERROR(TakeInjected(SanlockOp::kGetHosts, lockspace));
  MutexLock lock(cluster_.mu_);
  const std::string name(lockspace);
  const FakeSanlockCluster::Member* me = cluster_.FindMember(name, host_);
  if (me == nullptr || !cluster_.IsJoinedLocked(*me)) {
    return SanlockError(SanlockOp::kGetHosts, -ENOENT, lockspace);
  }
  const auto& area = cluster_.lockspaces_[name];
  std::vector<HostStatus> out;
  for (const auto& [id, generation] : area.generations) {
    if (host_id != 0 && id != host_id) continue;
    HostStatus h;
    h.host_id = id;
    h.generation = generation;
    const FakeSanlockCluster::Member* m = cluster_.FindHostLocked(name, id);
    h.io_timeout = m != nullptr ? m->io_timeout : 0;
    h.liveness = cluster_.LivenessLocked(name, id);
    out.push_back(h);
  }
  if (host_id != 0 && out.empty()) {
    HostStatus h;
    h.host_id = host_id;
    h.liveness = HostLiveness::kFree;
    out.push_back(h);
  }
  return out;
}

void FakeSanlock::FailLockspace(std::string_view lockspace) {
  const std::string name(lockspace);
  bool killed = false;
  {
    MutexLock lock(cluster_.mu_);
    FakeSanlockCluster::Member* m = cluster_.FindMember(name, host_);
    if (m == nullptr ||
        m->state != FakeSanlockCluster::Member::State::kJoining) {
      return;
    }
    m->state = FakeSanlockCluster::Member::State::kFailed;
    m->failed_at = cluster_.clock_.SteadyNow();
    // The leases stay owned on storage (by host id and generation) but no
    // process holds them any more: sanlock killed the holders.
    for (auto& [key, r] : cluster_.resources_) {
      if (r.owned && r.lockspace == name && r.owner_host_id == m->host_id &&
          r.owner_generation == m->generation) {
        killed = killed || r.owner_process == id_;
        r.owner_process = 0;
      }
    }
  }
  if (killed) Killed(lockspace);
}

void FakeSanlock::LoseLease(std::string_view lockspace,
                            std::string_view name) {
  MutexLock lock(cluster_.mu_);
  for (auto& [key, r] : cluster_.resources_) {
    if (r.owned && r.owner_process == id_ && r.lockspace == lockspace &&
        r.name == name) {
      r.owned = false;
    }
  }
}

}  // namespace sanpool::lease
