#include "spm/storage_pool.h"

#include <algorithm>

#include "base/log.h"
#include "base/uuid.h"
#include "spm/master_fs.h"
#include "spm/pool_errors.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "pool";
constexpr char kSdmName[] = "SDM";

lease::LeaseGeometry GeometryOf(const DomainMetadata& md) {
  return {.block_size = md.block_size, .alignment = md.alignment};
}

Result<lease::ResourceSpec> SdmOf(PoolDomain& domain,
                                  const DomainMetadata& md) {
  ASSIGN_OR_RETURN(std::string leases, domain.LeasesPath());
  return lease::ResourceSpec{.lockspace = md.sd_uuid,
                             .name = kSdmName,
                             .disk = {std::move(leases), md.alignment},
                             .geometry = GeometryOf(md)};
}

Status NotInPool(std::string_view sd, std::string_view sp) {
  return Status(Code::kNotFound,
                "domain " + std::string(sd) + " is not in pool " +
                    std::string(sp),
                pool_code::kStorageDomainNotInPool);
}

}  // namespace

StoragePool::StoragePool(StoragePoolDeps deps, StoragePoolOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      pool_domains_({.env = deps_.env,
                     .files = deps_.domains,
                     .blocks = deps_.block_domains}) {
  if (options_.thread == ThreadMode::kRun) {
    thread_ = std::thread([this] { Loop(); });
  }
}

StoragePool::~StoragePool() {
  stop_.Wake();
  if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<PoolDomain>> StoragePool::Open(
    std::string_view sd_uuid) {
  return pool_domains_.Open(sd_uuid);
}

Result<lease::LockspaceSpec> StoragePool::LockspaceOf(
    PoolDomain& domain, const DomainMetadata& md, uint64_t host_id) const {
  ASSIGN_OR_RETURN(std::string ids, domain.IdsPath());
  return lease::LockspaceSpec{.name = md.sd_uuid,
                              .host_id = host_id,
                              .disk = {std::move(ids), 0},
                              .geometry = GeometryOf(md)};
}

Status StoragePool::InitLeases(PoolDomain& domain, const DomainMetadata& md) {
  const uint32_t io = static_cast<uint32_t>(options_.io_timeout.count());
  RETURN_IF_ERROR(domain.Map());
  ASSIGN_OR_RETURN(bool new_lockspace, domain.LockspaceIsNew(md));
  if (new_lockspace) {
    ASSIGN_OR_RETURN(lease::LockspaceSpec spec, LockspaceOf(domain, md, 0));
    RETURN_IF_ERROR(deps_.sanlock->WriteLockspace(spec, io));
    log::Info(kLog, "lockspace initialised", {{"sd", md.sd_uuid}});
  }
  ASSIGN_OR_RETURN(bool new_sdm, domain.SdmIsNew(md));
  if (new_sdm) {
    ASSIGN_OR_RETURN(lease::ResourceSpec sdm, SdmOf(domain, md));
    RETURN_IF_ERROR(deps_.sanlock->WriteResource(sdm));
    log::Info(kLog, "SDM lease initialised", {{"sd", md.sd_uuid}});
  }
  return Status::Ok();
}

Status StoragePool::Create(const CreatePoolParams& params) {
  RETURN_IF_ERROR(ValidateUuid(params.pool_uuid, "storagepoolID"));
  RETURN_IF_ERROR(ValidateUuid(params.master_sd, "masterSdUUID"));
  std::vector<std::string> sds = params.domains;
  if (std::find(sds.begin(), sds.end(), params.master_sd) == sds.end()) {
    sds.insert(sds.begin(), params.master_sd);
  }
  MutexLock lock(mu_);
  struct Item {
    std::shared_ptr<PoolDomain> domain;
    DomainMetadata md;
  };
  std::vector<Item> items;
  for (const std::string& sd : sds) {
    RETURN_IF_ERROR(ValidateUuid(sd, "domainList"));
    ASSIGN_OR_RETURN(auto domain, Open(sd));
    ASSIGN_OR_RETURN(DomainMetadata md, domain->Read());
    if (!md.pool_uuids.empty()) {
      return Status(Code::kFailedPrecondition,
                    "domain " + sd + " is already attached to pool " +
                        md.pool_uuids[0],
                    pool_code::kStorageDomainAlreadyAttached);
    }
    items.push_back({std::move(domain), std::move(md)});
  }
  for (Item& item : items) RETURN_IF_ERROR(InitLeases(*item.domain, item.md));
  // Regular domains first, the master (the commit point) last.
  Item* master = nullptr;
  PoolMetadata pool{.description = params.name,
                    .master_version = params.master_version};
  for (Item& item : items) {
    bool is_master = item.md.sd_uuid == params.master_sd;
    SetDomainStatus(pool, item.md.sd_uuid,
                    is_master ? PoolDomainStatus::kActive
                              : PoolDomainStatus::kAttached);
    if (is_master) {
      master = &item;
      continue;
    }
    item.md.pool_uuids = {params.pool_uuid};
    item.md.role = DomainRole::kRegular;
    RETURN_IF_ERROR(item.domain->Write(item.md));
  }
  master->md.pool_uuids = {params.pool_uuid};
  master->md.role = DomainRole::kMaster;
  master->md.pool = pool;
  RETURN_IF_ERROR(master->domain->Write(master->md));
  log::Info(kLog, "pool created", {{"pool", params.pool_uuid},
                                   {"master", params.master_sd},
                                   {"domains", sds.size()}});
  return Status::Ok();
}

Status StoragePool::Connect(const ConnectParams& params) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(ConnectLocked(params));
  pending_.reset();  // an explicit connect replaces a pending restore
  return Status::Ok();
}

Status StoragePool::ConnectLocked(const ConnectParams& params) {
  RETURN_IF_ERROR(ValidateUuid(params.pool_uuid, "storagepoolID"));
  RETURN_IF_ERROR(ValidateUuid(params.master_sd, "masterSdUUID"));
  if (params.host_id < 1 || params.host_id > lease::kMaxHostId) {
    return InvalidArgumentError("hostID out of range 1..2000");
  }
  if (connection_) {
    const ConnectParams& now = connection_->params;
    if (now.pool_uuid == params.pool_uuid && now.host_id == params.host_id &&
        now.master_sd == params.master_sd) {
      return Status::Ok();
    }
    return Status(Code::kFailedPrecondition,
                  "already connected to pool " + now.pool_uuid,
                  pool_code::kCannotConnectMultiplePools);
  }
  Result<std::shared_ptr<PoolDomain>> master = Open(params.master_sd);
  if (!master.ok()) {
    return Status(Code::kNotFound,
                  "master domain not found: " + master.status().ToString(),
                  pool_code::kStoragePoolMasterNotFound);
  }
  ASSIGN_OR_RETURN(DomainMetadata md, (*master)->Read());
  RETURN_IF_ERROR(CheckMaster(md, params.pool_uuid, params.master_version));
  if (lease::MaxHostsFor(GeometryOf(md)) < params.host_id) {
    return InvalidArgumentError("hostID above the lockspace's host count");
  }
  // The master's lease areas and master file system (block: mapped LVs)
  // before anything is saved or started.
  PoolDomain& mb = **master;
  ASSIGN_OR_RETURN(lease::LockspaceSpec master_lockspace,
                   LockspaceOf(mb, md, params.host_id));
  ASSIGN_OR_RETURN(lease::ResourceSpec sdm, SdmOf(mb, md));
  ASSIGN_OR_RETURN(
      std::shared_ptr<MasterFs> master_fs,
      mb.NewMasterFs({.env = deps_.env,
                      .runner = deps_.runner,
                      .block_mount_root = options_.master_mount_root,
                      .mountinfo_path = options_.mountinfo_path}));
  if (!options_.state_file.empty()) {
    RETURN_IF_ERROR(SaveLocalState(
        *deps_.env, options_.state_file,
        {params.pool_uuid, params.host_id, params.master_sd,
         params.master_version}));
  }
  connection_ = Connection{.params = params, .master = *master};
  ApplyDomains(*connection_, *md.pool);

  SpmPool binding{.pool_uuid = params.pool_uuid,
                  .host_id = params.host_id,
                  .master_lockspace = std::move(master_lockspace),
                  .sdm = std::move(sdm),
                  .master_metadata = *master,
                  .master_fs = std::move(master_fs)};
  if (Status s = deps_.spm->Bind(std::move(binding)); !s.ok()) {
    connection_.reset();
    return s;
  }
  log::Info(kLog, "connected", {{"pool", params.pool_uuid},
                                {"host_id", params.host_id},
                                {"master", params.master_sd}});
  return Status::Ok();
}

void StoragePool::ApplyDomains(Connection& c, const PoolMetadata& pool) {
  std::map<std::string, PoolDomainStatus> wanted;
  for (const auto& [sd, text] : pool.domains) {
    if (auto st = DomainStatusIn(pool, sd)) wanted[sd] = *st;
  }
  for (auto it = c.members.begin(); it != c.members.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second != PoolDomainStatus::kActive) {
      StopMember(it->first, it->second);
    }
    if (w == wanted.end()) {
      it = c.members.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [sd, status] : wanted) {
    Member& m = c.members[sd];
    m.status = status;
    if (status == PoolDomainStatus::kActive) StartMember(c, sd, m);
  }
}

void StoragePool::StartMember(Connection& c, const std::string& sd,
                              Member& m) {
  if (!m.lockspace) {
    Result<std::shared_ptr<PoolDomain>> domain = Open(sd);
    if (!domain.ok()) {
      log::Warning(kLog, "pool domain not reachable; will retry",
                   {{"sd", sd}, {"error", domain.status().ToString()}});
      return;
    }
    Result<DomainMetadata> md = (*domain)->Read();
    if (!md.ok()) {
      log::Warning(kLog, "pool domain metadata unreadable; will retry",
                   {{"sd", sd}, {"error", md.status().ToString()}});
      return;
    }
    // Block: the special LVs are mapped here, before sanlock or the
    // monitor gets a path.
    Result<lease::LockspaceSpec> lockspace =
        LockspaceOf(**domain, *md, c.params.host_id);
    Result<PoolDomain::MonitorTarget> target = (*domain)->Monitor();
    if (!lockspace.ok() || !target.ok()) {
      Status s = lockspace.ok() ? target.status() : lockspace.status();
      log::Warning(kLog, "pool domain lease area not usable; will retry",
                   {{"sd", sd}, {"error", s.ToString()}});
      return;
    }
    m.domain = *std::move(domain);
    m.lockspace = *std::move(lockspace);
    if (deps_.monitor != nullptr && !deps_.monitor->IsMonitored(sd)) {
      Status s = deps_.monitor->Add(sd, target->path, target->content);
      m.monitored = s.ok();
    }
  }
  const uint32_t io = static_cast<uint32_t>(options_.io_timeout.count());
  if (Status s = deps_.sanlock->AddLockspace(*m.lockspace, io); !s.ok()) {
    log::Warning(kLog, "cannot start joining lockspace; will retry",
                 {{"sd", sd}, {"error", s.ToString()}});
  }
}

void StoragePool::StopMember(const std::string& sd, Member& m) {
  if (m.monitored && deps_.monitor != nullptr) {
    (void)deps_.monitor->Remove(sd);
  }
  m.monitored = false;
  if (m.lockspace) {
    if (Status s = deps_.sanlock->RemoveLockspace(
            *m.lockspace, lease::RemoveMode::kUnusedOnly);
        !s.ok()) {
      log::Warning(kLog, "cannot leave lockspace",
                   {{"sd", sd}, {"error", s.ToString()}});
    }
  }
  m.lockspace.reset();
  m.domain.reset();  // block: unmaps its special LVs
}

Result<StoragePool::Connection*> StoragePool::Connected(
    std::string_view pool_uuid) {
  if (!connection_ || connection_->params.pool_uuid != pool_uuid) {
    return PoolNotConnectedError(std::string(pool_uuid));
  }
  return &*connection_;
}

Status StoragePool::Disconnect(std::string_view pool_uuid, StopMode mode) {
  MutexLock lock(mu_);
  if (pending_ && pending_->pool_uuid == pool_uuid) {
    pending_.reset();
    deps_.spm->SetPoolMember(false);
    if (!options_.state_file.empty()) {
      RETURN_IF_ERROR(RemoveLocalState(*deps_.env, options_.state_file));
    }
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Connection * c, Connected(pool_uuid));
  RETURN_IF_ERROR(deps_.spm->Unbind(mode));
  for (auto& [sd, m] : c->members) StopMember(sd, m);
  connection_.reset();
  deps_.spm->SetPoolMember(false);
  if (!options_.state_file.empty()) {
    RETURN_IF_ERROR(RemoveLocalState(*deps_.env, options_.state_file));
  }
  log::Info(kLog, "disconnected", {{"pool", pool_uuid}});
  return Status::Ok();
}

Status StoragePool::Restore() {
  if (options_.state_file.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(std::optional<LocalState> state,
                   LoadLocalState(*deps_.env, options_.state_file));
  if (!state) return Status::Ok();
  log::Info(kLog, "restoring pool membership", {{"pool", state->pool_uuid}});
  deps_.spm->SetPoolMember(true);
  if (deps_.reconnect) deps_.reconnect();
  MutexLock lock(mu_);
  pending_ = *state;
  return RetryRestoreLocked();
}

Status StoragePool::RetryRestoreLocked() {
  const LocalState state = *pending_;
  Status s = ConnectLocked(
      {state.pool_uuid, state.host_id, state.master_sd, state.master_version});
  if (s.ok()) {
    pending_.reset();
  } else {
    retry_at_ = deps_.clock->SteadyNow() + options_.restore_retry;
    log::Warning(kLog, "cannot restore pool membership; will retry",
                 {{"pool", state.pool_uuid}, {"error", s.ToString()}});
  }
  return s;
}

Status StoragePool::Refresh(std::string_view pool_uuid,
                            std::string_view master_sd,
                            int64_t master_version) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Connection * c, Connected(pool_uuid));
  if (c->params.master_sd != master_sd) {
    return Status(Code::kFailedPrecondition,
                  "master domain is " + c->params.master_sd,
                  pool_code::kStoragePoolWrongMaster);
  }
  ASSIGN_OR_RETURN(DomainMetadata md, c->master->Read());
  RETURN_IF_ERROR(CheckMaster(md, pool_uuid, master_version));
  if (c->params.master_version != master_version) {
    c->params.master_version = master_version;
    if (!options_.state_file.empty()) {
      RETURN_IF_ERROR(SaveLocalState(
          *deps_.env, options_.state_file,
          {c->params.pool_uuid, c->params.host_id, c->params.master_sd,
           master_version}));
    }
  }
  ApplyDomains(*c, *md.pool);
  return Status::Ok();
}

Result<PoolInfo> StoragePool::GetInfo(std::string_view pool_uuid) {
  MutexLock lock(mu_);
  ASSIGN_OR_RETURN(Connection * c, Connected(pool_uuid));
  ASSIGN_OR_RETURN(DomainMetadata md, c->master->Read());
  RETURN_IF_ERROR(CheckMaster(md, pool_uuid, std::nullopt));
  PoolInfo info;
  info.pool_uuid = std::string(pool_uuid);
  info.name = md.pool->description;
  info.type = std::string(ToString(md.type));
  info.master_uuid = md.sd_uuid;
  info.master_version = md.pool->master_version;
  info.lver = md.pool->spm_lver;
  info.spm_id = md.pool->spm_id;
  info.version = md.version;
  info.domains = md.pool->domains;
  for (const auto& [sd, status] : md.pool->domains) {
    PoolInfo::Domain d;
    d.status = status;
    if (deps_.monitor != nullptr) {
      if (auto st = deps_.monitor->Get(sd)) {
        d.version = st->version;
        d.acquired = st->acquired;
      }
    }
    if (auto domain = Open(sd); domain.ok()) {
      if (auto space = (*domain)->Space(); space.ok()) {
        d.disk_total = space->disk_total;
        d.disk_free = space->disk_free;
      }
      if (d.version < 0) d.version = kDomainVersion;
    }
    info.dominfo[sd] = d;
  }
  return info;
}

std::optional<std::string> StoragePool::connected_pool() const {
  MutexLock lock(mu_);
  if (!connection_) return std::nullopt;
  return connection_->params.pool_uuid;
}

Status StoragePool::ChangeDomain(
    std::string_view pool_uuid, std::string_view sd_uuid,
    const std::function<Result<PoolMetadata>(Connection&)>& change) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "storagedomainID"));
  MutexLock lock(mu_);  // before the Spm's operation lock (Connect order)
  ASSIGN_OR_RETURN(Connection * c, Connected(pool_uuid));
  std::optional<PoolMetadata> updated;
  RETURN_IF_ERROR(deps_.spm->RunAsSpm([&]() -> Status {
    ASSIGN_OR_RETURN(PoolMetadata pool, change(*c));
    updated = std::move(pool);
    return Status::Ok();
  }));
  ApplyDomains(*c, *updated);
  return Status::Ok();
}

Status StoragePool::AttachDomain(std::string_view pool_uuid,
                                 std::string_view sd_uuid) {
  return ChangeDomain(pool_uuid, sd_uuid, [&](Connection& c) -> Result<PoolMetadata> {
    std::string sd(sd_uuid);
    ASSIGN_OR_RETURN(auto domain, Open(sd));
    ASSIGN_OR_RETURN(DomainMetadata md, domain->Read());
    if (!md.pool_uuids.empty() || c.members.count(sd) > 0) {
      return Status(Code::kFailedPrecondition,
                    "domain " + sd + " is already attached to a pool",
                    pool_code::kStorageDomainAlreadyAttached);
    }
    RETURN_IF_ERROR(InitLeases(*domain, md));
    md.pool_uuids = {c.params.pool_uuid};
    md.role = DomainRole::kRegular;
    RETURN_IF_ERROR(domain->Write(md));
    PoolMetadata updated;
    RETURN_IF_ERROR(UpdatePoolMetadata(
        *c.master, c.params.pool_uuid, [&](PoolMetadata& pool) {
          SetDomainStatus(pool, sd, PoolDomainStatus::kAttached);
          updated = pool;
          return Status::Ok();
        }));
    return updated;
  });
}

Status StoragePool::ActivateDomain(std::string_view pool_uuid,
                                   std::string_view sd_uuid) {
  return ChangeDomain(pool_uuid, sd_uuid, [&](Connection& c) -> Result<PoolMetadata> {
    if (c.members.count(std::string(sd_uuid)) == 0) {
      return NotInPool(sd_uuid, pool_uuid);
    }
    PoolMetadata updated;
    RETURN_IF_ERROR(UpdatePoolMetadata(
        *c.master, c.params.pool_uuid, [&](PoolMetadata& pool) {
          SetDomainStatus(pool, sd_uuid, PoolDomainStatus::kActive);
          updated = pool;
          return Status::Ok();
        }));
    return updated;
  });
}

Status StoragePool::DeactivateDomain(std::string_view pool_uuid,
                                     std::string_view sd_uuid) {
  return ChangeDomain(pool_uuid, sd_uuid, [&](Connection& c) -> Result<PoolMetadata> {
    if (c.members.count(std::string(sd_uuid)) == 0) {
      return NotInPool(sd_uuid, pool_uuid);
    }
    if (sd_uuid == c.params.master_sd) {
      return FailedPreconditionError("cannot deactivate the master domain");
    }
    PoolMetadata updated;
    RETURN_IF_ERROR(UpdatePoolMetadata(
        *c.master, c.params.pool_uuid, [&](PoolMetadata& pool) {
          SetDomainStatus(pool, sd_uuid, PoolDomainStatus::kAttached);
          updated = pool;
          return Status::Ok();
        }));
    return updated;
  });
}

Status StoragePool::DetachDomain(std::string_view pool_uuid,
                                 std::string_view sd_uuid) {
  return ChangeDomain(pool_uuid, sd_uuid, [&](Connection& c) -> Result<PoolMetadata> {
    std::string sd(sd_uuid);
    auto it = c.members.find(sd);
    if (it == c.members.end()) return NotInPool(sd_uuid, pool_uuid);
    if (it->second.status == PoolDomainStatus::kActive) {
      return FailedPreconditionError("domain " + sd +
                                     " is active: deactivate it first");
    }
    PoolMetadata updated;
    RETURN_IF_ERROR(UpdatePoolMetadata(
        *c.master, c.params.pool_uuid, [&](PoolMetadata& pool) {
          RemoveDomain(pool, sd);
          updated = pool;
          return Status::Ok();
        }));
    ASSIGN_OR_RETURN(auto domain, Open(sd));
    RETURN_IF_ERROR(UpdateDomainMetadata(*domain, [&](DomainMetadata& md) {
      std::erase(md.pool_uuids, c.params.pool_uuid);
      md.role = DomainRole::kRegular;
      return Status::Ok();
    }));
    return updated;
  });
}

void StoragePool::Tick() {
  struct Probe {
    std::string sd;
    lease::LockspaceSpec spec;
  };
  std::vector<Probe> probes;
  bool retry = false;
  {
    MutexLock lock(mu_);
    retry = pending_ && !connection_ && deps_.clock->SteadyNow() >= retry_at_;
  }
  // Outside the lock: reconnecting may mount.
  if (retry && deps_.reconnect) deps_.reconnect();
  {
    MutexLock lock(mu_);
    if (retry && pending_ && !connection_) (void)RetryRestoreLocked();
    if (!connection_) return;
    for (auto& [sd, m] : connection_->members) {
      if (m.status != PoolDomainStatus::kActive) continue;
      if (!m.lockspace) StartMember(*connection_, sd, m);
      if (m.lockspace) probes.push_back({sd, *m.lockspace});
    }
  }
  const uint32_t io = static_cast<uint32_t>(options_.io_timeout.count());
  for (const Probe& p : probes) {
    Result<lease::LockspaceState> st = deps_.sanlock->InquireLockspace(p.spec);
    bool joined = st.ok() && *st == lease::LockspaceState::kJoined;
    if (st.ok() && *st == lease::LockspaceState::kNotJoined) {
      // A failed or never started add: sanlock keeps no reason; try again.
      if (Status s = deps_.sanlock->AddLockspace(p.spec, io); !s.ok()) {
        log::Debug(kLog, "lockspace add failed",
                   {{"sd", p.sd}, {"error", s.ToString()}});
      }
    }
    if (deps_.monitor != nullptr) (void)deps_.monitor->SetAcquired(p.sd, joined);
  }
}

void StoragePool::Loop() {
  while (deps_.clock->SleepFor(options_.join_poll, &stop_) ==
         SleepResult::kDeadline) {
    Tick();
  }
}

}  // namespace sanpool::spm
