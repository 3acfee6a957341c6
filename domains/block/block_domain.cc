#include "domains/block/block_domain.h"

#include <algorithm>
#include <set>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/storage_errors.h"
#include "domains/volume_chain.h"

namespace sanpool::block {
namespace {

constexpr size_t kSlotBytes = 512;

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool HasTag(const std::vector<std::string>& tags, std::string_view tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

Status DomainMissing(std::string_view sd_uuid) {
  return Status(Code::kNotFound,
                "storage domain does not exist: " + std::string(sd_uuid),
                storage_code::kStorageDomainDoesNotExist);
}

lvm::TagChange ToLvm(const TagChange& change) {
  return {.add = change.add, .del = change.remove};
}

uint64_t RoundUpTo512(uint64_t v) { return (v + 511) / 512 * 512; }

// Zeroes [0, bytes) of a mapped device with O_DIRECT writes (1 MiB chunks).
Status ZeroHead(Env& env, const std::string& device, uint64_t bytes) {
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   env.OpenDirect(device, {.access = DirectAccess::kReadWrite,
                                           .block_size = 512}));
  constexpr uint64_t kChunk = kMiB;
  AlignedBuffer zeros(kChunk);
  zeros.Clear();
  for (uint64_t at = 0; at < bytes; at += kChunk) {
    uint64_t n = std::min(kChunk, RoundUpTo512(bytes - at));
    if (n == kChunk) {
      RETURN_IF_ERROR(file->PWrite(at, zeros));
    } else {
      AlignedBuffer tail(n);
      tail.Clear();
      RETURN_IF_ERROR(file->PWrite(at, tail));
    }
  }
  return file->Fsync();
}

}  // namespace

Result<std::string> CreateVolumeGroup(lvm::LvmCache& lvm,
                                      const std::string& vg_name,
                                      const lvm::DeviceList& devices,
                                      lvm::Force force) {
  if (devices.empty()) return InvalidParameter("no devices for the VG");
  ASSIGN_OR_RETURN(std::vector<lvm::Pv> pvs, lvm.GetPvs());
  for (const lvm::Pv& pv : pvs) {
    if (std::find(devices.begin(), devices.end(), pv.name) == devices.end() ||
        pv.vg_name.empty()) {
      continue;
    }
    bool is_domain = false;
    if (Result<lvm::Vg> vg = lvm.GetVg(pv.vg_name); vg.ok()) {
      is_domain = HasTag(vg->tags, kDomainVgTag);
    }
    if (force == lvm::Force::kNo || is_domain) {
      return Status(Code::kFailedPrecondition,
                    "device " + pv.name + " is already in VG " + pv.vg_name,
                    lvm::lvm_code::kPhysDevInitializationError)
          .WithDetail("device", pv.name);
    }
  }
  RETURN_IF_ERROR(lvm.PvCreate({.devices = devices, .force = force}));
  RETURN_IF_ERROR(
      lvm.PvChangeMetadataIgnore(devices.front(), lvm::MetadataIgnore::kNo));
  ASSIGN_OR_RETURN(pvs, lvm.GetPvs());
  uint64_t total = 0;
  for (const lvm::Pv& pv : pvs) {
    if (std::find(devices.begin(), devices.end(), pv.name) != devices.end()) {
      total += pv.size_bytes;
    }
  }
  if (total < kMinVgSize) {
    return InvalidParameter("the devices hold " + std::to_string(total) +
                            " bytes; a domain needs at least 10 GiB");
  }
  RETURN_IF_ERROR(lvm.VgCreate({.name = vg_name,
                                .pvs = devices,
                                .tags = {std::string(kUnreadyDomainVgTag)}}));
  ASSIGN_OR_RETURN(lvm::Vg vg, lvm.GetVg(vg_name));
  return vg.uuid;
}

BlockDomain::BlockDomain(BlockDomainDeps deps, std::string sd_uuid,
                         uint64_t alignment)
    : deps_(deps), sd_uuid_(std::move(sd_uuid)), alignment_(alignment) {}

BlockDomain::~BlockDomain() {
  MutexLock lock(mu_);
  for (const auto& [lv, path] : mapped_) {
    Status s = deps_.activator->Deactivate(sd_uuid_, std::string(LvName(lv)),
                                           LockMode::kShared);
    if (!s.ok()) {
      log::Warning("block-domain", "cannot unmap special LV",
                   {{"sd", sd_uuid_}, {"error", s.ToString()}});
    }
  }
}

Result<std::unique_ptr<BlockDomain>> BlockDomain::Create(
    const BlockDomainDeps& deps, const CreateBlockDomainParams& params) {
  lvm::LvmCache& lvm = *deps.lvm;
  RETURN_IF_ERROR(ValidateUuid(params.sd_uuid, "sdUUID"));
  if (params.type != DomainType::kIscsi && params.type != DomainType::kFcp) {
    return InvalidParameter("domain type " +
                            std::string(ToString(params.type)) +
                            " is not a block domain type");
  }
  BlockDomainMetadata md;
  md.common.sd_uuid = params.sd_uuid;
  md.common.type = params.type;
  md.common.domain_class = params.domain_class;
  md.common.description = params.description;
  md.common.block_size = params.block_size;
  ASSIGN_OR_RETURN(md.common.alignment,
                   AlignmentFor(params.block_size, params.max_hosts));
  RETURN_IF_ERROR(ValidateDomainMetadata(md.common));
  ASSIGN_OR_RETURN(std::vector<SpecialLvSpec> specials,
                   SpecialLvsFor(md.common.alignment));

  lvm.InvalidateVg(params.sd_uuid);
  Result<lvm::Vg> vg = lvm.GetVg(params.sd_uuid);
  if (!vg.ok()) {
    if (vg.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound,
                    "volume group " + params.sd_uuid + " does not exist",
                    lvm::lvm_code::kVolumeGroupDoesNotExist);
    }
    return vg.status();
  }
  if (HasTag(vg->tags, kDomainVgTag) || vg->lv_count > 0) {
    return Status(Code::kAlreadyExists,
                  "volume group " + params.sd_uuid +
                      " already is (or holds) a storage domain",
                  storage_code::kStorageDomainAlreadyExists);
  }
  if (!HasTag(vg->tags, kUnreadyDomainVgTag)) {
    return Status(Code::kFailedPrecondition,
                  "volume group " + params.sd_uuid +
                      " was not made by LVMVolumeGroup.create (no " +
                      std::string(kUnreadyDomainVgTag) + " tag)",
                  storage_code::kStorageDomainCreationError);
  }
  md.vg_uuid = vg->uuid;

  // The metadata LV goes on the PV holding the VG metadata (mda_used 2).
  ASSIGN_OR_RETURN(std::vector<lvm::Pv> pvs, lvm.GetPvs());
  std::vector<lvm::Pv> vg_pvs;
  for (const lvm::Pv& pv : pvs) {
    if (pv.vg_name == params.sd_uuid) vg_pvs.push_back(pv);
  }
  auto first = std::find_if(vg_pvs.begin(), vg_pvs.end(),
                            [](const lvm::Pv& p) { return p.mda_used_count > 0; });
  if (first == vg_pvs.end()) {
    return Status(Code::kFailedPrecondition,
                  "no PV of " + params.sd_uuid + " holds the VG metadata",
                  storage_code::kStorageDomainCreationError);
  }
  std::rotate(vg_pvs.begin(), first, first + 1);

  for (const SpecialLvSpec& spec : specials) {
    lvm::LvCreateSpec create{.vg = params.sd_uuid,
                             .name = std::string(spec.name),
                             .size = lvm::LvSize::MiB(spec.size_mib)};
    if (spec.lv == SpecialLv::kMetadata) {
      create.contiguous = lvm::Contiguous::kYes;
      create.pv = vg_pvs.front().name;
    }
    RETURN_IF_ERROR(lvm.LvCreate(create));
  }
  ASSIGN_OR_RETURN(lvm::Lv meta_lv,
                   lvm.GetLv(params.sd_uuid, std::string(LvName(SpecialLv::kMetadata))));
  if (meta_lv.segments.empty() ||
      meta_lv.segments.front().pv_device != vg_pvs.front().name ||
      meta_lv.segments.front().pv_start_extent != 0) {
    return Status(Code::kFailedPrecondition,
                  "the metadata LV does not start at extent 0 of the first PV",
                  storage_code::kStorageDomainCreationError);
  }

  std::unique_ptr<BlockDomain> domain(
      new BlockDomain(deps, params.sd_uuid, md.common.alignment));
  ASSIGN_OR_RETURN(std::string meta_path,
                   domain->SpecialLvPath(SpecialLv::kMetadata));
  RETURN_IF_ERROR(ZeroHead(*deps.env, meta_path, kReservedMetadataSize));
  for (SpecialLv box : {SpecialLv::kInbox, SpecialLv::kOutbox}) {
    ASSIGN_OR_RETURN(std::string path, domain->SpecialLvPath(box));
    RETURN_IF_ERROR(ZeroHead(*deps.env, path, kReservedMailboxSize));
  }

  std::vector<PvExtents> extents;
  for (const lvm::Pv& pv : vg_pvs) {
    extents.push_back({Basename(pv.name), pv.uuid, pv.pe_count});
  }
  md.pvs = UpdatePvMappings({}, extents);
  ASSIGN_OR_RETURN(std::vector<std::string> tags, EncodeDomainMetadataTags(md));
  lvm.InvalidateVg(params.sd_uuid);
  ASSIGN_OR_RETURN(lvm::Vg current, lvm.GetVg(params.sd_uuid));
  TagChange change = MetadataTagChange(current.tags, tags);
  change.remove.push_back(std::string(kUnreadyDomainVgTag));
  change.add.push_back(std::string(kDomainVgTag));
  RETURN_IF_ERROR(lvm.VgChangeTags(params.sd_uuid, ToLvm(change)));
  log::Info("block-domain", "created",
            {{"sd", params.sd_uuid}, {"pvs", vg_pvs.size()}});
  return domain;
}

Result<std::unique_ptr<BlockDomain>> BlockDomain::Open(
    const BlockDomainDeps& deps, std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  std::string name(sd_uuid);
  deps.lvm->InvalidateVg(name);
  Result<lvm::Vg> vg = deps.lvm->GetVg(name);
  if (!vg.ok()) {
    if (vg.status().code() == Code::kNotFound) return DomainMissing(sd_uuid);
    return vg.status();
  }
  if (!HasTag(vg->tags, kDomainVgTag)) {
    return Status(Code::kNotFound,
                  "volume group " + name + " is not a storage domain",
                  storage_code::kStorageDomainMetadataNotFound);
  }
  ASSIGN_OR_RETURN(BlockDomainMetadata md, DecodeDomainMetadataTags(vg->tags));
  if (md.common.sd_uuid != name || md.vg_uuid != vg->uuid) {
    return Status(Code::kDataLoss,
                  "domain metadata SDUUID/VGUUID do not match VG " + name,
                  storage_code::kMetaDataValidationError);
  }
  return std::unique_ptr<BlockDomain>(
      new BlockDomain(deps, name, md.common.alignment));
}

Status BlockDomain::Format(const BlockDomainDeps& deps,
                           std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  std::string name(sd_uuid);
  deps.lvm->InvalidateVg(name);
  Result<lvm::Vg> vg = deps.lvm->GetVg(name);
  if (!vg.ok()) {
    if (vg.status().code() == Code::kNotFound) return DomainMissing(sd_uuid);
    return vg.status();
  }
  Result<BlockDomainMetadata> md = DecodeDomainMetadataTags(vg->tags);
  if (md.ok() && !md->common.pool_uuids.empty()) {
    return Status(Code::kFailedPrecondition,
                  "cannot format storage domain attached to pool " +
                      md->common.pool_uuids.front(),
                  storage_code::kCannotFormatAttachedStorageDomain);
  }
  ASSIGN_OR_RETURN(std::vector<lvm::Lv> lvs, deps.lvm->GetAllLvs(name));
  for (const lvm::Lv& lv : lvs) {
    RETURN_IF_ERROR(deps.activator->ForceDeactivate(name, lv.name));
  }
  return deps.lvm->VgRemove(name);
}

Result<BlockDomainMetadata> BlockDomain::ReadMetadata() const {
  deps_.lvm->InvalidateVg(sd_uuid_);
  ASSIGN_OR_RETURN(lvm::Vg vg, deps_.lvm->GetVg(sd_uuid_));
  return DecodeDomainMetadataTags(vg.tags);
}

Status BlockDomain::WriteMetadata(const BlockDomainMetadata& md) {
  ASSIGN_OR_RETURN(BlockDomainMetadata current, ReadMetadata());
  if (md.common.sd_uuid != current.common.sd_uuid ||
      md.vg_uuid != current.vg_uuid) {
    return InvalidParameter("SDUUID and VGUUID cannot change");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> tags, EncodeDomainMetadataTags(md));
  ASSIGN_OR_RETURN(lvm::Vg vg, deps_.lvm->GetVg(sd_uuid_));
  TagChange change = MetadataTagChange(vg.tags, tags);
  if (change.add.empty() && change.remove.empty()) return Status::Ok();
  return deps_.lvm->VgChangeTags(sd_uuid_, ToLvm(change));
}

Result<BlockDomainInfo> BlockDomain::GetInfo() const {
  ASSIGN_OR_RETURN(BlockDomainMetadata md, ReadMetadata());
  BlockDomainInfo info{.uuid = md.common.sd_uuid,
                       .type = md.common.type,
                       .domain_class = md.common.domain_class,
                       .name = md.common.description,
                       .role = md.common.role,
                       .pool = md.common.pool_uuids,
                       .version = md.common.version,
                       .block_size = md.common.block_size,
                       .alignment = md.common.alignment,
                       .vg_uuid = md.vg_uuid,
                       .pv_devices = {}};
  for (const auto& [n, pv] : md.pvs) info.pv_devices.push_back(pv.guid);
  return info;
}

Result<BlockDomainStats> BlockDomain::GetStats() const {
  deps_.lvm->InvalidateVg(sd_uuid_);
  ASSIGN_OR_RETURN(lvm::Vg vg, deps_.lvm->GetVg(sd_uuid_));
  MetadataAreaHealth health = CheckMetadataArea(vg.mda_size_bytes,
                                                vg.mda_free_bytes);
  return BlockDomainStats{.disk_total = vg.size_bytes,
                          .disk_free = vg.free_bytes,
                          .mda_size = vg.mda_size_bytes,
                          .mda_free = vg.mda_free_bytes,
                          .mda_valid = health.mda_valid,
                          .mda_threshold = health.mda_threshold};
}

Status BlockDomain::Validate() const {
  auto layout_error = [&](const std::string& what) {
    return Status(Code::kFailedPrecondition,
                  "storage domain " + sd_uuid_ + ": " + what,
                  storage_code::kStorageDomainLayoutError);
  };
  Result<BlockDomainMetadata> md = ReadMetadata();
  if (!md.ok()) return layout_error(std::string(md.status().message()));
  ASSIGN_OR_RETURN(std::vector<lvm::Lv> lvs, deps_.lvm->GetAllLvs(sd_uuid_));
  ASSIGN_OR_RETURN(std::vector<SpecialLvSpec> specials,
                   SpecialLvsFor(md->common.alignment));
  for (const SpecialLvSpec& spec : specials) {
    auto it = std::find_if(lvs.begin(), lvs.end(), [&](const lvm::Lv& lv) {
      return lv.name == spec.name;
    });
    if (it == lvs.end()) {
      return layout_error("special LV " + std::string(spec.name) +
                          " is missing");
    }
    if (spec.lv == SpecialLv::kMetadata &&
        (it->segments.empty() || it->segments.front().pv_start_extent != 0 ||
         md->pvs.empty() ||
         Basename(it->segments.front().pv_device) !=
             md->pvs.begin()->second.guid)) {
      return layout_error("the metadata LV is not at extent 0 of PV0");
    }
  }
  return Status::Ok();
}

Status BlockDomain::Extend(const std::string& device, lvm::Force force) {
  ASSIGN_OR_RETURN(BlockDomainMetadata md, ReadMetadata());
  RETURN_IF_ERROR(deps_.lvm->PvCreate({.devices = {device}, .force = force}));
  RETURN_IF_ERROR(deps_.lvm->VgExtend(sd_uuid_, {device}));
  ASSIGN_OR_RETURN(std::vector<lvm::Pv> pvs, deps_.lvm->GetPvs());
  std::vector<PvExtents> extents;
  // PV0 (the metadata LV's) first, then lvm's order.
  std::vector<lvm::Pv> vg_pvs;
  for (const lvm::Pv& pv : pvs) {
    if (pv.vg_name == sd_uuid_) vg_pvs.push_back(pv);
  }
  for (const lvm::Pv& pv : vg_pvs) {
    extents.push_back({Basename(pv.name), pv.uuid, pv.pe_count});
  }
  md.pvs = UpdatePvMappings(md.pvs, extents);
  return WriteMetadata(md);
}

Result<std::vector<VolumeLv>> BlockDomain::ListVolumeLvs() const {
  ASSIGN_OR_RETURN(std::vector<lvm::Lv> lvs, deps_.lvm->GetAllLvs(sd_uuid_));
  std::vector<VolumeLv> out;
  for (const lvm::Lv& lv : lvs) {
    if (IsSpecialLvName(lv.name)) continue;
    Result<VolumeLvTags> tags = ParseVolumeLvTags(lv.tags);
    if (!tags.ok()) {
      log::Warning("block-domain", "LV with foreign tags ignored",
                   {{"sd", sd_uuid_}, {"lv", lv.name},
                    {"error", tags.status().ToString()}});
      continue;
    }
    out.push_back({lv.name, std::move(*tags), lv.size_bytes});
  }
  return out;
}

Result<std::vector<std::string>> BlockDomain::GetImages() const {
  ASSIGN_OR_RETURN(std::vector<VolumeLv> lvs, ListVolumeLvs());
  std::set<std::string> images;
  for (const VolumeLv& lv : lvs) {
    if (lv.tags.state == LvState::kReady) images.insert(lv.tags.image);
  }
  return std::vector<std::string>(images.begin(), images.end());
}

Result<std::vector<std::string>> BlockDomain::GetVolumes(
    std::string_view img) const {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  ASSIGN_OR_RETURN(std::vector<VolumeLv> lvs, ListVolumeLvs());
  std::map<std::string, const VolumeLv*> by_name;
  for (const VolumeLv& lv : lvs) by_name[lv.vol_uuid] = &lv;
  std::set<std::string> vols;
  for (const VolumeLv& lv : lvs) {
    if (lv.tags.state != LvState::kReady || lv.tags.image != img) continue;
    vols.insert(lv.vol_uuid);
    // A template parent living in another image belongs to this chain too.
    auto parent = by_name.find(lv.tags.parent);
    if (!IsBlankUuid(lv.tags.parent) && parent != by_name.end() &&
        parent->second->tags.image != img) {
      vols.insert(lv.tags.parent);
    }
  }
  if (vols.empty()) {
    return Status(Code::kNotFound,
                  "image " + std::string(img) + " does not exist",
                  storage_code::kImageDoesNotExistInSd);
  }
  return std::vector<std::string>(vols.begin(), vols.end());
}

Result<std::string> BlockDomain::SpecialLvPath(SpecialLv lv) {
  MutexLock lock(mu_);
  if (auto it = mapped_.find(lv); it != mapped_.end()) return it->second;
  ASSIGN_OR_RETURN(std::string path,
                   deps_.activator->Activate(sd_uuid_, std::string(LvName(lv)),
                                             LockMode::kShared));
  mapped_[lv] = path;
  return path;
}

Result<formats::VolumeMetadata> BlockDomain::ReadSlot(int slot) {
  ASSIGN_OR_RETURN(uint64_t offset, MetadataSlotOffset(slot));
  ASSIGN_OR_RETURN(std::string path, SpecialLvPath(SpecialLv::kMetadata));
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   deps_.env->OpenDirect(path, {.block_size = 512}));
  AlignedBuffer buf(kSlotBytes);
  RETURN_IF_ERROR(WithStorageCode(file->PRead(offset, buf),
                                  storage_code::kVolumeMetadataReadError));
  return DecodeVolumeSlot(buf.view(), SlotParse::kTolerant);
}

Status BlockDomain::WriteSlotBytes(int slot, const std::string& bytes) {
  ASSIGN_OR_RETURN(uint64_t offset, MetadataSlotOffset(slot));
  ASSIGN_OR_RETURN(std::string path, SpecialLvPath(SpecialLv::kMetadata));
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   deps_.env->OpenDirect(path, {.access = DirectAccess::kReadWrite,
                                                .block_size = 512}));
  AlignedBuffer buf(kSlotBytes);
  buf.CopyIn(0, bytes);
  Status s = file->PWrite(offset, buf);
  if (s.ok()) s = file->Fsync();
  return WithStorageCode(s, storage_code::kVolumeMetadataWriteError);
}

Status BlockDomain::WriteSlot(int slot, const formats::VolumeMetadata& md) {
  ASSIGN_OR_RETURN(std::string bytes, EncodeVolumeSlot(md));
  return WriteSlotBytes(slot, bytes);
}

Status BlockDomain::ClearSlot(int slot) {
  return WriteSlotBytes(slot, ClearedVolumeSlot());
}

Result<std::vector<std::string>> BlockDomain::ReadAllSlots() {
  ASSIGN_OR_RETURN(uint64_t first, MetadataSlotOffset(kFirstVolumeSlot));
  ASSIGN_OR_RETURN(uint64_t last, MetadataSlotOffset(kLastVolumeSlot));
  ASSIGN_OR_RETURN(std::string path, SpecialLvPath(SpecialLv::kMetadata));
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   deps_.env->OpenDirect(path, {.block_size = 512}));
  AlignedBuffer buf(last + kSlotBytes - first);
  RETURN_IF_ERROR(WithStorageCode(file->PRead(first, buf),
                                  storage_code::kVolumeMetadataReadError));
  std::vector<std::string> slots;
  for (int s = kFirstVolumeSlot; s <= kLastVolumeSlot; ++s) {
    slots.emplace_back(buf.view().substr(
        (s - kFirstVolumeSlot) * kMetadataSlotSizeV5, kSlotBytes));
  }
  return slots;
}

}  // namespace sanpool::block
