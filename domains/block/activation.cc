#include "domains/block/activation.h"

#include <chrono>
#include <thread>
#include <utility>

#include "base/log.h"
#include "domains/dm/dm_names.h"

namespace sanpool::block {

Activator::Activator(lvm::LvmCache& lvm, dm::DeviceMapper& dm,
                     ActivatorOptions options)
    : lvm_(lvm), dm_(dm), options_(std::move(options)) {
  if (!options_.busy_wait) {
    options_.busy_wait = [] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    };
  }
}

Status Activator::RemoveWaitingForOpeners(const std::string& name) {
  Status removed = dm_.Remove(name, dm::RemoveMode::kNormal);
  if (removed.code() != Code::kFailedPrecondition) return removed;
  removing_.insert(name);
  for (int retry = 0;
       retry < options_.busy_retries &&
       removed.code() == Code::kFailedPrecondition;
       ++retry) {
    Result<dm::DeviceInfo> info = dm_.Info(name);
    if (!info.ok()) {
      removed = info.status();
      break;
    }
    if (!info->exists || info->open_count == 0) break;  // another refusal
    mu_.Unlock();
    options_.busy_wait();
    mu_.Lock();
    removed = dm_.Remove(name, dm::RemoveMode::kNormal);
  }
  removing_.erase(name);
  removal_done_.SignalAll();
  return removed;
}

void Activator::AwaitRemoval(const std::string& name) {
  while (removing_.contains(name)) removal_done_.Wait(mu_);
}

Result<std::string> Activator::DevicePath(const std::string& vg,
                                          const std::string& lv) const {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  return dm_.DevicePath(name);
}

bool Activator::IsActive(const std::string& vg, const std::string& lv) const {
  Result<std::string> name = dm::LvDeviceName(vg, lv);
  if (!name.ok()) return false;
  MutexLock lock(mu_);
  auto it = refs_.find(*name);
  return it != refs_.end() && it->second.Count() > 0;
}

Result<dm::Table> Activator::TableOf(const std::string& vg,
                                     const std::string& lv) {
  ASSIGN_OR_RETURN(std::vector<lvm::LinearTarget> targets,
                   lvm_.GetLinearTable(vg, lv));
  dm::Table table;
  for (const lvm::LinearTarget& t : targets) {
    table.push_back({.start_sector = t.start_sector,
                     .length_sectors = t.sector_count,
                     .device = t.device,
                     .device_offset_sector = t.device_sector});
  }
  RETURN_IF_ERROR(dm::ValidateTable(table));
  return table;
}

Status Activator::Map(const std::string& vg, const std::string& lv) {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  ASSIGN_OR_RETURN(dm::Table table, TableOf(vg, lv));
  ASSIGN_OR_RETURN(dm::DeviceInfo info, dm_.Info(name));
  if (info.exists) return dm_.Reload(name, table);  // adopt
  ASSIGN_OR_RETURN(lvm::Vg vg_info, lvm_.GetVg(vg));
  ASSIGN_OR_RETURN(lvm::Lv lv_info, lvm_.GetLv(vg, lv));
  ASSIGN_OR_RETURN(std::string uuid,
                   dm::LvDeviceUuid(vg_info.uuid, lv_info.uuid));
  return dm_.Create(name, uuid, table);
}

Result<std::string> Activator::Activate(const std::string& vg,
                                        const std::string& lv, LockMode mode) {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  MutexLock lock(mu_);
  AwaitRemoval(name);
  Refs& refs = refs_[name];
  if (mode == LockMode::kExclusive && refs.exclusive) {
    return Status(Code::kFailedPrecondition,
                  "volume " + lv + " is already active for writing");
  }
  if (refs.Count() == 0) {
    if (Status mapped = Map(vg, lv); !mapped.ok()) {
      refs_.erase(name);
      return mapped;
    }
  }
  if (mode == LockMode::kExclusive) {
    refs.exclusive = true;
  } else {
    ++refs.shared;
  }
  return dm_.DevicePath(name);
}

Status Activator::Deactivate(const std::string& vg, const std::string& lv,
                             LockMode mode) {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  MutexLock lock(mu_);
  auto it = refs_.find(name);
  if (it == refs_.end()) return Status::Ok();
  Refs& refs = it->second;
  if (mode == LockMode::kExclusive) {
    refs.exclusive = false;
  } else if (refs.shared > 0) {
    --refs.shared;
  }
  if (refs.Count() > 0) return Status::Ok();
  refs_.erase(it);
  Status removed = RemoveWaitingForOpeners(name);
  if (removed.code() == Code::kNotFound) return Status::Ok();
  return removed;
}

Status Activator::ForceDeactivate(const std::string& vg,
                                  const std::string& lv) {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  MutexLock lock(mu_);
  AwaitRemoval(name);
  ASSIGN_OR_RETURN(dm::DeviceInfo info, dm_.Info(name));
  if (!info.exists) {
    refs_.erase(name);
    return Status::Ok();
  }
  RETURN_IF_ERROR(RemoveWaitingForOpeners(name));
  refs_.erase(name);
  return Status::Ok();
}

Status Activator::Refresh(const std::string& vg, const std::string& lv,
                          CacheState cache) {
  ASSIGN_OR_RETURN(std::string name, dm::LvDeviceName(vg, lv));
  if (cache == CacheState::kMayBeStale) lvm_.InvalidateLvs(vg);
  {
    // Not mapped here (the SPM extending another host's volume): no lvm
    // read at all. A Map() that starts after this check reads the table
    // after the invalidation; one in progress holds mu_ until it is done.
    MutexLock lock(mu_);
    ASSIGN_OR_RETURN(dm::DeviceInfo info, dm_.Info(name));
    if (!info.exists) return Status::Ok();
  }
  ASSIGN_OR_RETURN(dm::Table table, TableOf(vg, lv));
  MutexLock lock(mu_);
  Status reloaded = dm_.Reload(name, table);
  // Removed since the check (its last user deactivated it): nothing to do.
  if (reloaded.code() == Code::kNotFound) return Status::Ok();
  return reloaded;
}

Result<StaleMappings> Activator::RemoveStale(const std::set<std::string>& vgs) {
  StaleMappings out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, dm_.List());
  MutexLock lock(mu_);
  for (const std::string& name : names) {
    Result<dm::VgLv> parts = dm::SplitLvDeviceName(name);
    if (!parts.ok() || !vgs.contains(parts->vg)) continue;
    if (auto it = refs_.find(name); it != refs_.end() && it->second.Count()) {
      continue;
    }
    Status removed = dm_.Remove(name, dm::RemoveMode::kNormal);
    if (removed.ok()) {
      out.removed.push_back(name);
    } else if (removed.code() == Code::kFailedPrecondition) {
      out.busy.push_back(name);
    } else if (removed.code() != Code::kNotFound) {
      return removed;
    }
  }
  if (!out.removed.empty() || !out.busy.empty()) {
    log::Info("activation", "stale mappings",
              {{"removed", out.removed.size()}, {"busy", out.busy.size()}});
  }
  return out;
}

}  // namespace sanpool::block
