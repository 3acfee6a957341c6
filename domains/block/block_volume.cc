#include "domains/block/block_volume.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/uuid.h"
#include "domains/storage_errors.h"
#include "domains/volume_chain.h"
#include "domains/volume_rules.h"

namespace sanpool::block {
namespace {

using formats::Legality;
using formats::VolumeFormat;
using formats::VolumeMetadata;
using formats::VolumeRole;

Status VolumeMissing(std::string_view img, std::string_view vol) {
  return Status(Code::kNotFound,
                "volume " + std::string(vol) + " does not exist in image " +
                    std::string(img),
                storage_code::kVolumeDoesNotExist);
}

lvm::TagChange ToLvm(const TagChange& change) {
  return {.add = change.add, .del = change.remove};
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(),
                     [](char c) { return c == '\0'; });
}

}  // namespace

BlockVolumes::BlockVolumes(BlockDomain& domain, QemuImg& qemu_img,
                           ImageLocks& locks, ProcessRunner& runner,
                           BlockVolumesOptions options)
    : domain_(domain),
      qemu_img_(qemu_img),
      locks_(locks),
      runner_(runner),
      options_(std::move(options)),
      vg_(domain.sd_uuid()) {
  worker_ = std::thread([this] { ZeroWorker(); });
}

BlockVolumes::~BlockVolumes() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    if (zero_cancel_ != nullptr) zero_cancel_->Cancel();
    changed_.SignalAll();
  }
  worker_.join();
}

Result<std::string> BlockVolumes::DevicePath(std::string_view vol) const {
  return domain_.deps().activator->DevicePath(vg_, std::string(vol));
}

Result<VolumeLease> BlockVolumes::Lease(int slot) {
  ASSIGN_OR_RETURN(std::string path, domain_.SpecialLvPath(SpecialLv::kLeases));
  ASSIGN_OR_RETURN(uint64_t offset,
                   VolumeLeaseOffset(slot, domain_.alignment()));
  return VolumeLease{path, offset};
}

Result<BlockVolumes::Volume> BlockVolumes::Find(std::string_view img,
                                                std::string_view vol,
                                                bool any_image) {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  RETURN_IF_ERROR(ValidateUuid(vol, "volUUID"));
  Result<lvm::Lv> lv = domain_.deps().lvm->GetLv(vg_, std::string(vol));
  if (!lv.ok()) {
    if (lv.status().code() == Code::kNotFound) return VolumeMissing(img, vol);
    return lv.status();
  }
  Result<VolumeLvTags> tags = ParseVolumeLvTags(lv->tags);
  if (!tags.ok() || tags->state != LvState::kReady) {
    return VolumeMissing(img, vol);
  }
  Volume v{{lv->name, *tags, lv->size_bytes}, {}};
  ASSIGN_OR_RETURN(v.md, domain_.ReadSlot(tags->slot));
  // A template is part of the images of its children too.
  if (tags->image != img && !any_image && v.md.role != VolumeRole::kShared) {
    return VolumeMissing(img, vol);
  }
  return v;
}

Status BlockVolumes::Create(const CreateVolumeParams& params) {
  std::vector<std::pair<std::string, LockMode>> images = {
      {params.img_uuid, LockMode::kExclusive}};
  if (!IsBlankUuid(params.src_img_uuid) &&
      params.src_img_uuid != params.img_uuid) {
    images.emplace_back(params.src_img_uuid, LockMode::kShared);
  }
  ASSIGN_OR_RETURN(auto held, locks_.Lock(std::move(images)));
  return CreateLocked(params);
}

Status BlockVolumes::CreateLocked(const CreateVolumeParams& params) {
  RETURN_IF_ERROR(ValidateUuid(params.img_uuid, "imgUUID"));
  RETURN_IF_ERROR(ValidateUuid(params.vol_uuid, "volUUID"));
  const bool has_parent = !IsBlankUuid(params.src_vol_uuid);
  std::optional<Volume> parent;
  bool template_parent = false;
  std::string parent_img =
      IsBlankUuid(params.src_img_uuid) ? params.img_uuid : params.src_img_uuid;
  if (has_parent) {
    RETURN_IF_ERROR(ValidateUuid(params.src_vol_uuid, "srcVolUUID"));
    if (params.src_vol_uuid == params.vol_uuid) {
      return InvalidParameter("a volume cannot be its own parent");
    }
    Result<Volume> found = Find(parent_img, params.src_vol_uuid);
    if (!found.ok()) {
      if (found.status().code() == Code::kNotFound) {
        return Status(Code::kNotFound,
                      "parent volume " + params.src_vol_uuid +
                          " does not exist in image " + parent_img,
                      storage_code::kVolumeDoesNotExist);
      }
      return found.status();
    }
    parent = std::move(*found);
    ASSIGN_OR_RETURN(
        template_parent,
        CheckSnapshotParent(
            {.md = &parent->md,
             .parent_img = parent_img,
             .parent_vol = params.src_vol_uuid,
             .target_img = params.img_uuid,
             .target_has_volumes = [&]() -> Result<bool> {
               return domain_.GetVolumes(params.img_uuid).ok();
             }}));
  }
  ASSIGN_OR_RETURN(
      CheckedVolumeRequest checked,
      CheckVolumeRequest({.kind = DomainKind::kBlock,
                          .format = params.format,
                          .allocation = params.allocation,
                          .capacity = params.capacity,
                          .initial_size = params.initial_size,
                          .has_parent = has_parent,
                          .parent_capacity = parent ? parent->md.capacity : 0}));
  ASSIGN_OR_RETURN(uint64_t alloc,
                   VolumeAllocationSize({.format = params.format,
                                         .allocation = params.allocation,
                                         .capacity = checked.capacity,
                                         .initial_size = checked.initial_size,
                                         .chunk_mib = options_.chunk_mib}));
  lvm::LvmCache& lvm = *domain_.deps().lvm;
  Result<lvm::Lv> existing = lvm.GetLv(vg_, params.vol_uuid);
  if (existing.ok()) {
    return Status(Code::kAlreadyExists,
                  "volume " + params.vol_uuid + " already exists",
                  storage_code::kVolumeAlreadyExists);
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();

  RETURN_IF_ERROR(lvm.LvCreate({.vg = vg_,
                                .name = params.vol_uuid,
                                .size = lvm::LvSize::MiB(LvSizeMib(alloc)),
                                .tags = {std::string(kInitializingTag)}}));
  CrashPoint(crash_point::kBlockVolumeCreateAfterLvcreate);
  VolumeMetadata md;
  md.capacity = checked.capacity;
  md.ctime = std::chrono::duration_cast<std::chrono::seconds>(
                 domain_.deps().clock->WallNow().time_since_epoch())
                 .count();
  md.description = params.description;
  md.disk_type = params.disk_type;
  md.domain = vg_;
  md.format = params.format;
  md.image = params.img_uuid;
  md.legality = params.legality;
  md.parent = parent ? params.src_vol_uuid : std::string(formats::kBlankUuid);
  md.sequence = params.sequence;
  md.allocation = params.allocation;
  md.role = VolumeRole::kLeaf;

  int slot = 0;
  Activator& activator = *domain_.deps().activator;
  auto body = [&]() -> Status {
    if (params.format == VolumeFormat::kCow) {
      ASSIGN_OR_RETURN(std::string path,
                       activator.Activate(vg_, params.vol_uuid,
                                          LockMode::kExclusive));
      CreateOptions create{.path = path,
                           .format = VolumeFormat::kCow,
                           .size = checked.capacity};
      if (parent) {
        create.backing = params.src_vol_uuid;
        create.backing_format = parent->md.format;
        create.backing_check = BackingCheck::kUnsafe;
      }
      Status made = qemu_img_.Create(create);
      Status unmapped =
          activator.Deactivate(vg_, params.vol_uuid, LockMode::kExclusive);
      RETURN_IF_ERROR(made);
      RETURN_IF_ERROR(unmapped);
      CrashPoint(crash_point::kBlockVolumeCreateAfterQemuImg);
    }
    return CommitLocked(params, md, &slot);
  };
  if (Status s = body(); !s.ok()) {
    MutexLock lock(slot_mu_);
    if (slot != 0) (void)domain_.ClearSlot(slot);
    (void)activator.ForceDeactivate(vg_, params.vol_uuid);
    (void)lvm.LvRemove(vg_, {params.vol_uuid});
    return s.storage_code() == 0
               ? WithStorageCode(s, storage_code::kVolumeCreationError)
               : s;
  }
  if (parent && !template_parent) {
    parent->md.role = VolumeRole::kInternal;
    Status marked = domain_.WriteSlot(parent->lv.tags.slot, parent->md);
    if (!marked.ok()) {
      return marked.Annotate("volume " + params.vol_uuid +
                             " was created but its parent could not be "
                             "marked INTERNAL (Recover repairs it)");
    }
  }
  return Status::Ok();
}

Status BlockVolumes::CommitLocked(const CreateVolumeParams& params,
                                  const VolumeMetadata& md, int* slot) {
  lvm::LvmCache& lvm = *domain_.deps().lvm;
  MutexLock lock(slot_mu_);
  ASSIGN_OR_RETURN(std::vector<lvm::Lv> lvs, lvm.GetAllLvs(vg_));
  std::vector<LvTagList> tag_lists;
  for (const lvm::Lv& lv : lvs) tag_lists.push_back({lv.name, lv.tags});
  ASSIGN_OR_RETURN(std::vector<int> occupied, OccupiedSlots(tag_lists));
  ASSIGN_OR_RETURN(int free_slot, FirstFreeSlot(std::move(occupied)));
  ASSIGN_OR_RETURN(TagChange change,
                   FinishCreationChange({.state = LvState::kReady,
                                         .image = params.img_uuid,
                                         .parent = md.parent,
                                         .slot = free_slot}));
  CrashPoint(crash_point::kBlockVolumeCreateBeforeTagCommit);
  RETURN_IF_ERROR(lvm.LvChangeTags(vg_, params.vol_uuid, ToLvm(change)));
  *slot = free_slot;
  // The lease before the slot: a crash in between leaves a tagged LV whose
  // slot is clear, which Recover removes; once the slot is written the
  // volume is complete.
  if (options_.sanlock != nullptr) {
    ASSIGN_OR_RETURN(VolumeLease lease, Lease(free_slot));
    RETURN_IF_ERROR(options_.sanlock->WriteResource(
        {.lockspace = vg_,
         .name = params.vol_uuid,
         .disk = {.path = lease.path, .offset = lease.offset},
         .geometry = {.block_size = 512, .alignment = domain_.alignment()}}));
  }
  // The commit point.
  RETURN_IF_ERROR(domain_.WriteSlot(free_slot, md));
  CrashPoint(crash_point::kBlockVolumeCreateAfterSlot);
  return Status::Ok();
}

Result<VolumeInfo> BlockVolumes::GetInfo(std::string_view img,
                                         std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, locks_.Lock({{std::string(img), LockMode::kShared}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  VolumeInfo info;
  info.uuid = std::string(vol);
  info.apparent_size = v.lv.size_bytes;
  info.true_size = v.lv.size_bytes;
  info.status = v.md.legality == Legality::kLegal ? "OK" : "ILLEGAL";
  info.slot = v.lv.tags.slot;
  ASSIGN_OR_RETURN(info.children, ChildrenLocked(img, vol));
  ASSIGN_OR_RETURN(info.lease, Lease(v.lv.tags.slot));
  info.metadata = std::move(v.md);
  return info;
}

Result<VolumeMetadata> BlockVolumes::GetMetadata(std::string_view img,
                                                 std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, locks_.Lock({{std::string(img), LockMode::kShared}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  return v.md;
}

Status BlockVolumes::SetDescription(std::string_view img, std::string_view vol,
                                    std::string_view description) {
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  v.md.description = std::string(description);  // the encoder truncates
  return domain_.WriteSlot(v.lv.tags.slot, v.md);
}

Status BlockVolumes::SetLegality(std::string_view img, std::string_view vol,
                                 Legality legality) {
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  if (v.md.legality == legality) return Status::Ok();
  v.md.legality = legality;
  return domain_.WriteSlot(v.lv.tags.slot, v.md);
}

Status BlockVolumes::SetRole(std::string_view img, std::string_view vol,
                             VolumeRole role) {
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  if (v.md.role == role) return Status::Ok();
  v.md.role = role;
  return domain_.WriteSlot(v.lv.tags.slot, v.md);
}

Status BlockVolumes::ExtendSize(std::string_view img, std::string_view vol,
                                int64_t new_capacity) {
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  if (v.md.role != VolumeRole::kLeaf) {
    return Status(Code::kFailedPrecondition,
                  "only a leaf volume can be extended",
                  storage_code::kVolumeExtendingError);
  }
  Result<uint64_t> size = CheckCapacity(new_capacity);
  if (!size.ok()) {
    return WithStorageCode(size.status(), storage_code::kVolumeResizeValueError);
  }
  if (*size < v.md.capacity) {
    return Status(Code::kInvalidArgument,
                  "new size " + std::to_string(*size) +
                      " is smaller than the capacity " +
                      std::to_string(v.md.capacity),
                  storage_code::kVolumeResizeValueError);
  }
  if (*size == v.md.capacity) return Status::Ok();
  if (v.md.format == VolumeFormat::kRaw) {
    RETURN_IF_ERROR(ExtendLv(vol, LvSizeMib(*size)).status());
  } else {
    // Shared: a prepared (exclusively mapped) leaf can still be resized.
    Activator& activator = *domain_.deps().activator;
    ASSIGN_OR_RETURN(std::string path,
                     activator.Activate(vg_, std::string(vol), LockMode::kShared));
    Status resized = qemu_img_.Resize(path, VolumeFormat::kCow, *size);
    Status unmapped =
        activator.Deactivate(vg_, std::string(vol), LockMode::kShared);
    RETURN_IF_ERROR(resized);
    RETURN_IF_ERROR(unmapped);
  }
  v.md.capacity = *size;
  return domain_.WriteSlot(v.lv.tags.slot, v.md);
}

Result<uint64_t> BlockVolumes::ExtendLv(std::string_view vol,
                                        uint64_t size_mib) {
  RETURN_IF_ERROR(ValidateUuid(vol, "volUUID"));
  lvm::LvmCache& lvm = *domain_.deps().lvm;
  const std::string name(vol);
  // One lvm command on the common path: LvExtend is idempotent (it reads
  // the LV only when lvm refuses an extend that would not grow it), and
  // Refresh reads the segments only when the LV is mapped on this host.
  RETURN_IF_ERROR(lvm.LvExtend(vg_, name, lvm::LvSize::MiB(size_mib)));
  RETURN_IF_ERROR(domain_.deps().activator->Refresh(
      vg_, name, Activator::CacheState::kFresh));
  return size_mib * kMiB;
}

Result<std::vector<std::string>> BlockVolumes::Children(std::string_view img,
                                                        std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, locks_.Lock({{std::string(img), LockMode::kShared}}));
  return ChildrenLocked(img, vol);
}

Result<std::vector<std::string>> BlockVolumes::ChildrenLocked(
    std::string_view img, std::string_view vol) {
  ASSIGN_OR_RETURN(std::vector<VolumeLv> lvs, domain_.ListVolumeLvs());
  std::vector<std::string> children;
  for (const VolumeLv& lv : lvs) {
    if (lv.tags.state == LvState::kReady && lv.tags.image == img &&
        lv.tags.parent == vol) {
      children.push_back(lv.vol_uuid);
    }
  }
  return children;
}

Status BlockVolumes::Delete(std::string_view img, std::string_view vol,
                            PostZero zero) {
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  return DeleteLocked(img, vol, zero);
}

Status BlockVolumes::DeleteLocked(std::string_view img, std::string_view vol,
                                  PostZero zero) {
  ASSIGN_OR_RETURN(Volume v, Find(img, vol));
  ASSIGN_OR_RETURN(std::vector<VolumeLv> lvs, domain_.ListVolumeLvs());
  bool shared_elsewhere = false;
  for (const VolumeLv& lv : lvs) {
    if (lv.tags.state == LvState::kReady && lv.tags.parent == vol &&
        lv.tags.image != v.lv.tags.image) {
      shared_elsewhere = true;
    }
  }
  if (v.lv.tags.image != img) shared_elsewhere = true;
  ASSIGN_OR_RETURN(std::vector<std::string> children, ChildrenLocked(img, vol));
  RETURN_IF_ERROR(CheckVolumeDeletable({.vol = vol,
                                        .md = &v.md,
                                        .shared_elsewhere = shared_elsewhere,
                                        .children = std::move(children)}));
  // ILLEGAL first, then the retag: from here the volume is gone for
  // readers and a crash leaves a marked LV that Recover finishes.
  v.md.legality = Legality::kIllegal;
  RETURN_IF_ERROR(domain_.WriteSlot(v.lv.tags.slot, v.md));
  ASSIGN_OR_RETURN(TagChange change,
                   MarkForRemovalChange(v.lv.tags, zero == PostZero::kYes
                                                       ? LvState::kZeroing
                                                       : LvState::kRemoving));
  RETURN_IF_ERROR(WithStorageCode(
      domain_.deps().lvm->LvChangeTags(vg_, v.lv.vol_uuid, ToLvm(change)),
      storage_code::kCannotDeleteVolume));
  CrashPoint(crash_point::kBlockVolumeDeleteAfterRetag);

  // The parent in this image is a leaf again when it has no other child.
  const std::string parent = v.md.parent;
  if (!IsBlankUuid(parent)) {
    Result<Volume> p = Find(img, parent);
    if (p.ok() && p->lv.tags.image == img &&
        p->md.role == VolumeRole::kInternal) {
      ASSIGN_OR_RETURN(std::vector<std::string> siblings,
                       ChildrenLocked(img, parent));
      if (siblings.empty()) {
        p->md.role = VolumeRole::kLeaf;
        RETURN_IF_ERROR(domain_.WriteSlot(p->lv.tags.slot, p->md));
      }
    }
  }
  return FinishRemoval(v.lv.vol_uuid, v.lv.tags.slot, zero);
}

Status BlockVolumes::FinishRemoval(const std::string& vol, int slot,
                                   PostZero zero) {
  if (zero == PostZero::kYes) {
    QueueZeroing(vol, slot);
    return Status::Ok();
  }
  MutexLock lock(slot_mu_);
  CrashPoint(crash_point::kBlockVolumeDeleteBeforeLvremove);
  return RemoveLv(vol, slot);
}

// slot_mu_ is held so that no create picks the slot between lvremove (which
// frees it) and the clear.
Status BlockVolumes::RemoveLv(const std::string& vol, int slot) {
  RETURN_IF_ERROR(domain_.deps().activator->ForceDeactivate(vg_, vol));
  RETURN_IF_ERROR(
      WithStorageCode(domain_.deps().lvm->LvRemove(vg_, {vol}),
                      storage_code::kCannotDeleteVolume));
  if (slot >= kFirstVolumeSlot) RETURN_IF_ERROR(domain_.ClearSlot(slot));
  return Status::Ok();
}

void BlockVolumes::QueueZeroing(const std::string& vol, int slot) {
  MutexLock lock(mu_);
  for (const ZeroJob& job : zero_queue_) {
    if (job.vol == vol) return;
  }
  if (zero_running_ == vol) return;
  zero_queue_.push_back({vol, slot});
  changed_.SignalAll();
}

void BlockVolumes::CancelZeroing() {
  MutexLock lock(mu_);
  zero_queue_.clear();
  if (zero_cancel_ != nullptr) zero_cancel_->Cancel();
  changed_.SignalAll();
}

void BlockVolumes::WaitForZeroing() {
  MutexLock lock(mu_);
  while (!zero_queue_.empty() || !zero_running_.empty()) changed_.Wait(mu_);
}

std::vector<std::string> BlockVolumes::PendingZeroing() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  if (!zero_running_.empty()) out.push_back(zero_running_);
  for (const ZeroJob& job : zero_queue_) out.push_back(job.vol);
  return out;
}

Status BlockVolumes::LastZeroingError() const {
  MutexLock lock(mu_);
  return zero_error_;
}

void BlockVolumes::ZeroWorker() {
  while (true) {
    ZeroJob job;
    CancellationSource cancel;
    {
      MutexLock lock(mu_);
      while (!stopping_ && zero_queue_.empty()) changed_.Wait(mu_);
      if (stopping_) return;
      job = zero_queue_.front();
      zero_queue_.pop_front();
      zero_running_ = job.vol;
      zero_cancel_ = &cancel;
    }
    Status s = ZeroLv(job.vol, cancel.Token());
    if (s.ok()) {
      MutexLock slot_lock(slot_mu_);
      CrashPoint(crash_point::kBlockVolumeDeleteBeforeLvremove);
      s = RemoveLv(job.vol, job.slot);
    }
    if (!s.ok()) {
      log::Warning("block-volume", "zeroing did not finish",
                   {{"sd", vg_}, {"vol", job.vol}, {"error", s.ToString()}});
    }
    MutexLock lock(mu_);
    zero_cancel_ = nullptr;
    zero_running_.clear();
    if (!s.ok()) zero_error_ = s;
    changed_.SignalAll();
  }
}

Status BlockVolumes::ZeroLv(const std::string& vol,
                            const CancellationToken& cancel) {
  Activator& activator = *domain_.deps().activator;
  ASSIGN_OR_RETURN(lvm::Lv lv, domain_.deps().lvm->GetLv(vg_, vol));
  ASSIGN_OR_RETURN(std::string path,
                   activator.Activate(vg_, vol, LockMode::kExclusive));
  auto zero = [&]() -> Status {
    const uint64_t step = options_.zero_step_bytes;
    bool discard_supported = true;
    std::unique_ptr<DirectFile> direct;
    AlignedBuffer zeros;
    for (uint64_t at = 0; at < lv.size_bytes; at += step) {
      RETURN_IF_ERROR(cancel.CheckCancelled("zeroing " + vol));
      const uint64_t n = std::min(step, lv.size_bytes - at);
      if (discard_supported) {
        ProcessSpec spec;
        spec.argv = {options_.blkdiscard, "--zeroout", "--offset",
                     std::to_string(at), "--length", std::to_string(n), path};
        spec.timeout = std::chrono::minutes(5);
        spec.cancel = cancel;
        ASSIGN_OR_RETURN(ProcessResult r, runner_.Run(spec));
        if (r.cancelled) return cancel.CheckCancelled("zeroing " + vol);
        if (r.Succeeded()) {
          if (at == 0) CrashPoint(crash_point::kBlockVolumeDeleteMidZeroing);
          continue;
        }
        if (r.stderr_data.find("not supported") == std::string::npos) {
          return Status(Code::kUnknown,
                        "blkdiscard --zeroout failed on " + path,
                        storage_code::kCannotDeleteVolume)
              .WithDetail("stderr", r.stderr_data);
        }
        discard_supported = false;
        log::Info("block-volume", "no discard support, writing zeros",
                  {{"vol", vol}});
      }
      if (!direct) {
        ASSIGN_OR_RETURN(direct,
                         domain_.deps().env->OpenDirect(
                             path, {.access = DirectAccess::kReadWrite,
                                    .block_size = 512}));
        zeros = AlignedBuffer(step);
        zeros.Clear();
      }
      if (n == step) {
        RETURN_IF_ERROR(direct->PWrite(at, zeros));
      } else {
        AlignedBuffer tail(n);
        tail.Clear();
        RETURN_IF_ERROR(direct->PWrite(at, tail));
      }
      if (at == 0) CrashPoint(crash_point::kBlockVolumeDeleteMidZeroing);
    }
    if (direct) RETURN_IF_ERROR(direct->Fsync());
    if (discard_supported) {
      // Give the now-zero extents back to thin storage; best effort.
      ProcessSpec spec;
      spec.argv = {options_.blkdiscard, path};
      spec.timeout = std::chrono::minutes(5);
      spec.cancel = cancel;
      (void)runner_.Run(spec);
    }
    return Status::Ok();
  };
  Status s = zero();
  Status unmapped = activator.Deactivate(vg_, vol, LockMode::kExclusive);
  RETURN_IF_ERROR(s);
  return unmapped;
}

Result<std::vector<std::string>> BlockVolumes::Recover() {
  std::vector<std::string> report;
  lvm::LvmCache& lvm = *domain_.deps().lvm;
  lvm.InvalidateLvs(vg_);
  ASSIGN_OR_RETURN(std::vector<lvm::Lv> lvs, lvm.GetAllLvs(vg_));
  ASSIGN_OR_RETURN(std::vector<std::string> slots, domain_.ReadAllSlots());
  auto slot_bytes = [&](int slot) -> const std::string& {
    return slots[slot - kFirstVolumeSlot];
  };
  std::set<int> owned;
  std::map<std::string, std::map<std::string, VolumeMetadata>> images;
  std::map<std::string, int> slot_of;
  MutexLock slot_lock(slot_mu_);
  for (const lvm::Lv& lv : lvs) {
    if (IsSpecialLvName(lv.name)) continue;
    Result<VolumeLvTags> tags = ParseVolumeLvTags(lv.tags);
    if (!tags.ok()) {
      report.push_back("ignored " + lv.name + ": " +
                       std::string(tags.status().message()));
      continue;
    }
    switch (tags->state) {
      case LvState::kInitializing:
        RETURN_IF_ERROR(RemoveLv(lv.name, 0));
        report.push_back("removed initializing " + lv.name);
        break;
      case LvState::kRemoving:
        RETURN_IF_ERROR(RemoveLv(lv.name, tags->slot));
        report.push_back("removed " + lv.name);
        break;
      case LvState::kZeroing:
        owned.insert(tags->slot);
        QueueZeroing(lv.name, tags->slot);
        report.push_back("zeroing " + lv.name);
        break;
      case LvState::kReady: {
        const std::string& bytes = slot_bytes(tags->slot);
        if (AllZero(bytes)) {
          // Tagged but never committed: the create was interrupted.
          RETURN_IF_ERROR(RemoveLv(lv.name, 0));
          report.push_back("removed uncommitted " + lv.name);
          break;
        }
        owned.insert(tags->slot);
        Result<VolumeMetadata> md =
            DecodeVolumeSlot(bytes, SlotParse::kTolerant);
        if (!md.ok()) {
          report.push_back("problem " + lv.name + ": " +
                           std::string(md.status().message()));
          break;
        }
        if (md->image != tags->image) {
          // Not ours to decide: a stale slot or damage. Left for a human.
          report.push_back("problem " + lv.name + ": slot " +
                           std::to_string(tags->slot) +
                           " holds metadata of image " + md->image);
          break;
        }
        if (md->parent != tags->parent) {
          // The slot wins (an HSM may have rewritten it after a live
          // merge); the SPM syncs the PU_ tag.
          ASSIGN_OR_RETURN(TagChange change, ReparentChange(*tags, md->parent));
          RETURN_IF_ERROR(lvm.LvChangeTags(vg_, lv.name, ToLvm(change)));
          report.push_back("synced parent tag of " + lv.name);
        }
        images[tags->image][lv.name] = std::move(*md);
        slot_of[lv.name] = tags->slot;
        break;
      }
    }
  }
  for (int slot = kFirstVolumeSlot; slot <= kLastVolumeSlot; ++slot) {
    if (owned.contains(slot) || AllZero(slot_bytes(slot))) continue;
    RETURN_IF_ERROR(domain_.ClearSlot(slot));
    report.push_back("cleared slot " + std::to_string(slot));
  }
  for (auto& [img, volumes] : images) {
    const std::map<std::string, VolumeRole> roles = ExpectedRoles(volumes);
    for (auto& [vol, md] : volumes) {
      if (md.role == roles.at(vol)) continue;
      md.role = roles.at(vol);
      RETURN_IF_ERROR(domain_.WriteSlot(slot_of[vol], md));
      report.push_back("repaired role of " + vol);
    }
  }
  if (!report.empty()) {
    log::Warning("block-volume", "recovered domain",
                 {{"sd", vg_}, {"actions", report.size()}});
  }
  return report;
}

}  // namespace sanpool::block
