#include "domains/block_registry.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/block/block_layout.h"
#include "domains/block/master_lv.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

// Bound of IsBlockDomain's negative cache (distinct UUIDs asked about).
constexpr size_t kMaxNotVgs = 4096;

Status NoSuchDomain(std::string_view sd_uuid) {
  return Status(Code::kNotFound,
                "no block storage domain " + std::string(sd_uuid),
                storage_code::kStorageDomainDoesNotExist);
}

}  // namespace

BlockDomainRegistry::BlockDomainRegistry(BlockRegistryDeps deps,
                                         BlockRegistryOptions options)
    : deps_(std::move(deps)), options_(std::move(options)) {}

block::BlockDomainDeps BlockDomainRegistry::DomainDeps() const {
  return block::BlockDomainDeps{.env = deps_.env,
                                .clock = deps_.clock,
                                .lvm = deps_.lvm,
                                .activator = deps_.activator};
}

bool BlockDomainRegistry::IsConfiguredDevice(const std::string& device) const {
  lvm::DeviceList devices = deps_.lvm->Devices();
  return std::find(devices.begin(), devices.end(), device) != devices.end();
}

bool BlockDomainRegistry::IsBlockDomain(std::string_view sd_uuid,
                                        VgLookup lookup) {
  if (!IsValidUuid(sd_uuid)) return false;
  const SteadyTime now = deps_.clock->SteadyNow();
  {
    MutexLock lock(mu_);
    if (cache_.count(sd_uuid) > 0) return true;
    if (auto it = not_vgs_.find(sd_uuid); it != not_vgs_.end()) {
      if (lookup == VgLookup::kCached && now - it->second < options_.not_vg_ttl) {
        return false;
      }
      not_vgs_.erase(it);
    }
  }
  if (deps_.lvm->Devices().empty()) return false;
  Result<lvm::Vg> vg = deps_.lvm->GetVg(std::string(sd_uuid));
  if (vg.ok()) return true;
  if (vg.status().code() == Code::kNotFound) {
    MutexLock lock(mu_);
    // Bounded: expired entries go whenever the map grows large.
    if (not_vgs_.size() >= kMaxNotVgs) {
      std::erase_if(not_vgs_, [&](const auto& entry) {
        return now - entry.second >= options_.not_vg_ttl;
      });
      if (not_vgs_.size() >= kMaxNotVgs) not_vgs_.clear();
    }
    not_vgs_[std::string(sd_uuid)] = now;
  }
  return false;
}

void BlockDomainRegistry::ForgetMissingVgs() {
  MutexLock lock(mu_);
  not_vgs_.clear();
}

std::shared_ptr<BlockDomainBundle> BlockDomainRegistry::MakeBundle(
    std::unique_ptr<block::BlockDomain> domain) {
  auto bundle = std::make_shared<BlockDomainBundle>();
  bundle->domain = std::move(domain);
  bundle->locks = std::make_unique<file_domain::ImageLocks>(
      *deps_.lock_manager, bundle->domain->sd_uuid(), options_.lock_timeout);
  bundle->volumes = std::make_unique<block::BlockVolumes>(
      *bundle->domain, *deps_.qemu_img, *bundle->locks, *deps_.runner,
      block::BlockVolumesOptions{.sanlock = deps_.sanlock});
  bundle->images = std::make_unique<block::BlockImages>(
      *bundle->domain, *bundle->volumes, *bundle->locks, options_.run_dir);
  return bundle;
}

void BlockDomainRegistry::RecoverIfSpm(const BlockDomainBundle& bundle) {
  const std::string& sd_uuid = bundle.sd_uuid();
  if (!deps_.is_spm || !deps_.is_spm()) return;
  {
    MutexLock lock(mu_);
    if (recovered_.count(sd_uuid) > 0) return;
  }
  auto held = deps_.lock_manager->Acquire(kStorageLockNamespace, sd_uuid,
                                          LockMode::kExclusive,
                                          Duration::zero());
  if (!held.ok()) {
    log::Warning("domains", "block recovery postponed: domain busy",
                 {{"sd", sd_uuid}, {"error", held.status().ToString()}});
    return;
  }
  auto report = bundle.volumes->Recover();
  if (!report.ok()) {
    log::Error("domains", "block domain recovery failed",
               {{"sd", sd_uuid}, {"error", report.status().ToString()}});
    return;
  }
  if (report->empty()) {
    log::Info("domains", "block domain recovery: nothing to do",
              {{"sd", sd_uuid}});
  } else {
    log::Warning("domains", "block domain recovery",
                 {{"sd", sd_uuid}, {"actions", JoinLines(*report)}});
  }
  MutexLock lock(mu_);
  recovered_.insert(sd_uuid);
}

Result<std::shared_ptr<BlockDomainBundle>> BlockDomainRegistry::Get(
    std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  std::shared_ptr<BlockDomainBundle> bundle;
  {
    MutexLock lock(mu_);
    if (auto it = cache_.find(sd_uuid); it != cache_.end()) {
      bundle = it->second;
    }
  }
  if (bundle == nullptr) {
    MutexLock open_lock(open_mu_);
    {
      MutexLock lock(mu_);
      if (auto it = cache_.find(sd_uuid); it != cache_.end()) {
        bundle = it->second;
      }
    }
    if (bundle == nullptr) {
      if (deps_.lvm->Devices().empty()) return NoSuchDomain(sd_uuid);
      auto domain = block::BlockDomain::Open(DomainDeps(), sd_uuid);
      if (!domain.ok()) {
        if (domain.status().code() == Code::kNotFound) {
          return NoSuchDomain(sd_uuid);
        }
        return domain.status();
      }
      bundle = MakeBundle(std::move(*domain));
      log::Info("domains", "opened block domain", {{"sd", sd_uuid}});
      MutexLock lock(mu_);
      cache_[std::string(sd_uuid)] = bundle;
    }
  }
  RecoverIfSpm(*bundle);
  return bundle;
}

Result<std::string> BlockDomainRegistry::CreateVolumeGroup(
    const std::string& vg_name, const lvm::DeviceList& devices,
    lvm::Force force) {
  if (devices.empty()) return InvalidParameter("devlist: no device");
  for (const std::string& device : devices) {
    if (!IsConfiguredDevice(device)) {
      return InvalidParameter("devlist: " + device +
                              " is not among lvm.devices");
    }
  }
  ForgetMissingVgs();
  Result<std::string> made =
      block::CreateVolumeGroup(*deps_.lvm, vg_name, devices, force);
  ForgetMissingVgs();  // also what was asked while lvm ran
  return made;
}

Result<std::shared_ptr<BlockDomainBundle>> BlockDomainRegistry::Create(
    const block::CreateBlockDomainParams& params) {
  RETURN_IF_ERROR(ValidateUuid(params.sd_uuid, "sdUUID"));
  ForgetMissingVgs();
  MutexLock open_lock(open_mu_);
  ASSIGN_OR_RETURN(auto domain,
                   block::BlockDomain::Create(DomainDeps(), params));
  // The master LV's ext3 (oVirt's blockSD.create), once: a pool master
  // mounts it (spm/master_fs.h); mapped for mkfs only.
  const std::string master(block::LvName(block::SpecialLv::kMaster));
  ASSIGN_OR_RETURN(std::string master_dev,
                   deps_.activator->Activate(params.sd_uuid, master,
                                             LockMode::kShared));
  Status mkfs = block::MakeMasterFileSystem(*deps_.runner, master_dev);
  Status unmap = deps_.activator->Deactivate(params.sd_uuid, master,
                                             LockMode::kShared);
  RETURN_IF_ERROR(mkfs);
  RETURN_IF_ERROR(unmap);
  auto bundle = MakeBundle(std::move(domain));
  log::Info("domains", "created block domain", {{"sd", params.sd_uuid}});
  MutexLock lock(mu_);
  cache_[params.sd_uuid] = bundle;
  recovered_.insert(params.sd_uuid);  // a new domain has nothing to recover
  return bundle;
}

Status BlockDomainRegistry::Extend(std::string_view sd_uuid,
                                   const std::string& device,
                                   lvm::Force force) {
  if (!IsConfiguredDevice(device)) {
    return InvalidParameter("device: " + device + " is not among lvm.devices");
  }
  ASSIGN_OR_RETURN(auto bundle, Get(sd_uuid));
  MutexLock open_lock(open_mu_);
  return bundle->domain->Extend(device, force);
}

Status BlockDomainRegistry::Format(std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  auto held = deps_.lock_manager->Acquire(kStorageLockNamespace, sd_uuid,
                                          LockMode::kExclusive,
                                          options_.lock_timeout);
  if (!held.ok()) return held.status();
  MutexLock open_lock(open_mu_);
  std::shared_ptr<BlockDomainBundle> dropped;
  {
    MutexLock lock(mu_);
    if (auto it = cache_.find(sd_uuid); it != cache_.end()) {
      dropped = std::move(it->second);
      cache_.erase(it);
    }
    recovered_.erase(std::string(sd_uuid));
  }
  if (dropped != nullptr) dropped->volumes->CancelZeroing();
  dropped.reset();  // unmaps the special LVs before the VG goes
  if (deps_.lvm->Devices().empty()) return NoSuchDomain(sd_uuid);
  Status st = block::BlockDomain::Format(DomainDeps(), sd_uuid);
  if (st.code() == Code::kNotFound) return NoSuchDomain(sd_uuid);
  return st;
}

Result<block::BlockVolumes*> BlockDomainRegistry::Volumes(
    const std::string& sd_uuid) {
  ASSIGN_OR_RETURN(auto bundle, Get(sd_uuid));
  return bundle->volumes.get();
}

Status BlockDomainRegistry::RemoveStaleMappings() {
  if (deps_.lvm->Devices().empty()) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<lvm::Pv> pvs, deps_.lvm->GetPvs());
  std::set<std::string> vgs;
  for (const lvm::Pv& pv : pvs) {
    if (pv.vg_name.empty() || !IsValidUuid(pv.vg_name)) continue;
    vgs.insert(pv.vg_name);
  }
  if (vgs.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(block::StaleMappings stale,
                   deps_.activator->RemoveStale(vgs));
  log::Info("domains", "stale block mappings",
            {{"removed", JoinLines(stale.removed)},
             {"kept_open", JoinLines(stale.busy)}});
  return Status::Ok();
}

std::vector<std::string> BlockDomainRegistry::CachedDomains() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [sd, bundle] : cache_) out.push_back(sd);
  return out;
}

}  // namespace sanpool
