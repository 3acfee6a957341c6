#include "spm/pool_domain.h"

#include <cstring>

#include "base/log.h"
#include "domains/storage_errors.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "pool-domain";
// sanlock's leader_record (sanlock/src/leader.h): magic, version, flags,
// sector_size (4 x u32), five u64, then space_name and resource_name
// (NAME_ID_SIZE 48 each).
constexpr uint32_t kDeltaMagic = 0x12212010;  // DELTA_DISK_MAGIC
constexpr uint32_t kPaxosMagic = 0x06152010;  // PAXOS_DISK_MAGIC
constexpr size_t kSpaceNameOffset = 56;
constexpr size_t kResourceNameOffset = 104;
constexpr size_t kNameSize = 48;
constexpr size_t kLeaderReadSize = 4096;  // aligned for 512 and 4K devices

std::string_view NameAt(std::string_view sector, size_t offset) {
  std::string_view field = sector.substr(offset, kNameSize);
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

}  // namespace

bool IsSanlockLeader(std::string_view sector, bool delta,
                     std::string_view space_name,
                     std::string_view resource_name) {
  if (sector.size() < kResourceNameOffset + kNameSize) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(sector.data());
  uint32_t magic = uint32_t{b[0]} | uint32_t{b[1]} << 8 |
                   uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;  // on-disk LE
  if (magic != (delta ? kDeltaMagic : kPaxosMagic)) return false;
  if (NameAt(sector, kSpaceNameOffset) != space_name) return false;
  return delta || NameAt(sector, kResourceNameOffset) == resource_name;
}

// ---- file ------------------------------------------------------------------

Result<DomainMetadata> FilePoolDomain::Read() {
  return bundle_->domain->ReadMetadata();
}

Status FilePoolDomain::Write(const DomainMetadata& md) {
  return bundle_->domain->WriteMetadata(md);
}

Result<std::string> FilePoolDomain::IdsPath() {
  return bundle_->domain->layout().special_file("ids");
}

Result<std::string> FilePoolDomain::LeasesPath() {
  return bundle_->domain->layout().special_file("leases");
}

Result<PoolDomain::MonitorTarget> FilePoolDomain::Monitor() {
  return MonitorTarget{bundle_->domain->layout().metadata_file(),
                       monitor::PathContent::kFileDomainMetadata};
}

Result<PoolDomainSpace> FilePoolDomain::Space() {
  ASSIGN_OR_RETURN(file_domain::DomainStats stats, bundle_->domain->GetStats());
  return PoolDomainSpace{stats.disk_total, stats.disk_free};
}

// StorageDomain.create leaves `ids` empty and `leases` shorter than the SDM
// slot; sanlock's writes give them their size.
Result<bool> FilePoolDomain::LockspaceIsNew(const DomainMetadata&) {
  ASSIGN_OR_RETURN(std::string path, IdsPath());
  ASSIGN_OR_RETURN(FileStat ids, env_.Stat(path));
  return ids.size == 0;
}

Result<bool> FilePoolDomain::SdmIsNew(const DomainMetadata& md) {
  ASSIGN_OR_RETURN(std::string path, LeasesPath());
  ASSIGN_OR_RETURN(FileStat leases, env_.Stat(path));
  return leases.size < 2 * md.alignment;
}

Result<std::shared_ptr<MasterFs>> FilePoolDomain::NewMasterFs(
    const MasterFsContext& context) {
  return std::shared_ptr<MasterFs>(std::make_shared<FileMasterFs>(
      *context.env, bundle_->domain->layout().domain_dir()));
}

// ---- block -----------------------------------------------------------------

BlockPoolDomain::~BlockPoolDomain() {
  MutexLock lock(mu_);
  block::Activator& activator = *bundle_->domain->deps().activator;
  for (const auto& [lv, path] : mapped_) {
    Status s = activator.Deactivate(sd_uuid(), std::string(block::LvName(lv)),
                                    LockMode::kShared);
    if (!s.ok()) {
      log::Warning(kLog, "cannot unmap special LV",
                   {{"sd", sd_uuid()},
                    {"lv", block::LvName(lv)},
                    {"error", s.ToString()}});
    }
  }
}

Result<DomainMetadata> BlockPoolDomain::Read() {
  ASSIGN_OR_RETURN(block::BlockDomainMetadata md,
                   bundle_->domain->ReadMetadata());
  return md.common;
}

Status BlockPoolDomain::Write(const DomainMetadata& md) {
  // The common keys change; VGUUID and PV<n> stay as they are.
  ASSIGN_OR_RETURN(block::BlockDomainMetadata current,
                   bundle_->domain->ReadMetadata());
  if (md.sd_uuid != current.common.sd_uuid) {
    return InvalidArgumentError("SDUUID cannot change");
  }
  current.common = md;
  return bundle_->domain->WriteMetadata(current);
}

Status BlockPoolDomain::Map() {
  MutexLock lock(mu_);
  block::Activator& activator = *bundle_->domain->deps().activator;
  for (block::SpecialLv lv : kMapped) {
    if (mapped_.count(lv) > 0) continue;
    ASSIGN_OR_RETURN(std::string path,
                     activator.Activate(sd_uuid(),
                                        std::string(block::LvName(lv)),
                                        LockMode::kShared));
    mapped_[lv] = std::move(path);
  }
  return Status::Ok();
}

Result<std::string> BlockPoolDomain::PathOf(block::SpecialLv lv) {
  RETURN_IF_ERROR(Map());
  MutexLock lock(mu_);
  auto it = mapped_.find(lv);
  if (it == mapped_.end()) {
    return InvalidArgumentError("special LV " +
                                std::string(block::LvName(lv)) +
                                " is not one a pool maps");
  }
  return it->second;
}

Result<std::string> BlockPoolDomain::IdsPath() {
  return PathOf(block::SpecialLv::kIds);
}

Result<std::string> BlockPoolDomain::LeasesPath() {
  return PathOf(block::SpecialLv::kLeases);
}

Result<PoolDomain::MonitorTarget> BlockPoolDomain::Monitor() {
  ASSIGN_OR_RETURN(std::string path, PathOf(block::SpecialLv::kMetadata));
  return MonitorTarget{std::move(path), monitor::PathContent::kOpaque};
}

Result<PoolDomainSpace> BlockPoolDomain::Space() {
  ASSIGN_OR_RETURN(block::BlockDomainStats stats, bundle_->domain->GetStats());
  return PoolDomainSpace{stats.disk_total, stats.disk_free};
}

namespace {

Result<std::string> ReadLeaderArea(Env& env, const std::string& path,
                                   uint64_t offset, uint32_t block_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   env.OpenDirect(path, {.block_size = block_size}));
  AlignedBuffer buf(kLeaderReadSize);
  RETURN_IF_ERROR(file->PRead(offset, buf));
  return std::string(buf.view());
}

}  // namespace

// The special LVs are never empty: an area is new when it holds no sanlock
// leader of this domain (zeroes, or leftovers of something else).
Result<bool> BlockPoolDomain::LockspaceIsNew(const DomainMetadata& md) {
  ASSIGN_OR_RETURN(std::string path, IdsPath());
  ASSIGN_OR_RETURN(std::string sector,
                   ReadLeaderArea(env(), path, 0, md.block_size));
  return !IsSanlockLeader(sector, /*delta=*/true, md.sd_uuid, "");
}

Result<bool> BlockPoolDomain::SdmIsNew(const DomainMetadata& md) {
  ASSIGN_OR_RETURN(std::string path, LeasesPath());
  ASSIGN_OR_RETURN(std::string sector,
                   ReadLeaderArea(env(), path, md.alignment, md.block_size));
  return !IsSanlockLeader(sector, /*delta=*/false, md.sd_uuid, "SDM");
}

Result<std::shared_ptr<MasterFs>> BlockPoolDomain::NewMasterFs(
    const MasterFsContext& context) {
  if (context.env == nullptr || context.runner == nullptr ||
      context.block_mount_root.empty()) {
    return FailedPreconditionError(
        "block master domain " + sd_uuid() +
        ": this agent has no process runner or mount root for it");
  }
  ASSIGN_OR_RETURN(std::string device, PathOf(block::SpecialLv::kMaster));
  return std::shared_ptr<MasterFs>(std::make_shared<BlockMasterFs>(
      *context.env, *context.runner,
      BlockMasterFsOptions{
          .device = std::move(device),
          .mount_dir = context.block_mount_root + "/" + sd_uuid() + "/master",
          .mountinfo_path = context.mountinfo_path},
      shared_from_this()));
}

// ---- opening ---------------------------------------------------------------

Result<std::shared_ptr<PoolDomain>> PoolDomains::Open(std::string_view sd_uuid) {
  Result<std::shared_ptr<FileDomainBundle>> file = deps_.files->Get(sd_uuid);
  if (file.ok()) {
    return std::shared_ptr<PoolDomain>(
        std::make_shared<FilePoolDomain>(*deps_.env, *std::move(file)));
  }
  if (deps_.blocks == nullptr ||
      file.status().storage_code() != storage_code::kStorageDomainDoesNotExist) {
    return file.status();
  }
  Result<std::shared_ptr<BlockDomainBundle>> blk = deps_.blocks->Get(sd_uuid);
  if (blk.ok()) {
    return std::shared_ptr<PoolDomain>(
        std::make_shared<BlockPoolDomain>(*std::move(blk)));
  }
  if (blk.status().storage_code() == storage_code::kStorageDomainDoesNotExist) {
    return file.status();
  }
  return blk.status();
}

}  // namespace sanpool::spm
