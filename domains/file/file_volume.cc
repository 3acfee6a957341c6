#include "domains/file/file_volume.h"

#include <algorithm>
#include <chrono>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/uuid.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"
#include "domains/volume_chain.h"
#include "domains/volume_rules.h"

namespace sanpool::file_domain {
namespace {

using formats::Allocation;
using formats::Legality;
using formats::VolumeFormat;
using formats::VolumeMetadata;
using formats::VolumeRole;

Status AlreadyExists(std::string_view vol) {
  return Status(Code::kAlreadyExists,
                "volume " + std::string(vol) + " already exists",
                storage_code::kVolumeAlreadyExists);
}

Result<bool> FileExists(Env& env, const std::string& path) {
  Result<FileStat> st = env.StatLink(path);
  if (st.ok()) return true;
  if (st.status().code() == Code::kNotFound) return false;
  return st.status();
}

}  // namespace

struct FileVolumes::Parent {
  VolumeMetadata md;
  std::string img;
  std::string vol;
  bool template_in_other_image = false;
  VolumePaths paths;  // in its own image
};

FileVolumes::FileVolumes(FileDomain& domain, QemuImg& qemu_img,
                         ImageLocks& locks)
    : domain_(domain), qemu_img_(qemu_img), locks_(locks) {}

Result<ResourceManager::LockSet> FileVolumes::LockImage(std::string_view img,
                                                        LockMode mode) {
  return locks_.Lock({{std::string(img), mode}});
}

Status FileVolumes::Create(const CreateVolumeParams& params) {
  std::vector<std::pair<std::string, LockMode>> images = {
      {params.img_uuid, LockMode::kExclusive}};
  if (!IsBlankUuid(params.src_img_uuid) && params.src_img_uuid != params.img_uuid) {
    images.emplace_back(params.src_img_uuid, LockMode::kShared);
  }
  ASSIGN_OR_RETURN(auto held, locks_.Lock(std::move(images)));
  return CreateUnlocked(params);
}

Result<VolumeInfo> FileVolumes::GetInfo(std::string_view img,
                                        std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  return GetInfoUnlocked(img, vol);
}

Result<VolumeSize> FileVolumes::GetSize(std::string_view img,
                                        std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  return GetSizeUnlocked(img, vol);
}

Result<formats::VolumeMetadata> FileVolumes::GetMetadata(std::string_view img,
                                                         std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  return GetMetadataUnlocked(img, vol);
}

Result<QemuImgInfo> FileVolumes::GetQemuImageInfo(std::string_view img,
                                                  std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
  return qemu_img_.Info(paths.data, md.format);
}

Result<QemuImgMeasure> FileVolumes::Measure(std::string_view img,
                                            std::string_view vol,
                                            VolumeFormat dest_format) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
  return qemu_img_.Measure(paths.data, md.format, dest_format);
}

Status FileVolumes::SetDescription(std::string_view img, std::string_view vol,
                                   std::string_view description) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kExclusive));
  return SetDescriptionUnlocked(img, vol, description);
}

Status FileVolumes::SetLegality(std::string_view img, std::string_view vol,
                                Legality legality) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kExclusive));
  return SetLegalityUnlocked(img, vol, legality);
}

Status FileVolumes::ExtendSize(std::string_view img, std::string_view vol,
                               int64_t new_capacity) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kExclusive));
  return ExtendSizeUnlocked(img, vol, new_capacity);
}

Status FileVolumes::Delete(std::string_view img, std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kExclusive));
  return DeleteUnlocked(img, vol);
}

Result<std::vector<std::string>> FileVolumes::Children(std::string_view img,
                                                       std::string_view vol) {
  ASSIGN_OR_RETURN(auto held, LockImage(img, LockMode::kShared));
  return ChildrenUnlocked(img, vol);
}

Result<FileVolumes::Parent> FileVolumes::CheckParent(
    const CreateVolumeParams& params) {
  Parent parent;
  parent.img = IsBlankUuid(params.src_img_uuid) ? params.img_uuid
                                            : params.src_img_uuid;
  parent.vol = params.src_vol_uuid;
  ASSIGN_OR_RETURN(parent.paths,
                   domain_.layout().Volume(parent.img, parent.vol));
  Result<VolumeMetadata> md = ReadVolumeMeta(domain_.env(), parent.paths.meta);
  if (!md.ok()) {
    if (md.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound,
                    "parent volume " + parent.vol + " does not exist in image " +
                        parent.img + " of domain " +
                        domain_.layout().sd_uuid(),
                    storage_code::kVolumeDoesNotExist);
    }
    return md.status();
  }
  parent.md = std::move(*md);
  ASSIGN_OR_RETURN(
      parent.template_in_other_image,
      CheckSnapshotParent(
          {.md = &parent.md,
           .parent_img = parent.img,
           .parent_vol = parent.vol,
           .target_img = params.img_uuid,
           .target_has_volumes = [&]() -> Result<bool> {
             ASSIGN_OR_RETURN(std::vector<std::string> existing,
                              domain_.GetVolumes(params.img_uuid));
             return !existing.empty();
           }}));
  return parent;
}

Status FileVolumes::CreateUnlocked(const CreateVolumeParams& params) {
  Env& env = domain_.env();
  const FileDomainLayout& layout = domain_.layout();
  ASSIGN_OR_RETURN(VolumePaths paths,
                   layout.Volume(params.img_uuid, params.vol_uuid));
  ASSIGN_OR_RETURN(std::string image_dir, layout.ImageDir(params.img_uuid));
  const bool has_parent = !IsBlankUuid(params.src_vol_uuid);
  if (!IsBlankUuid(params.src_img_uuid)) {
    RETURN_IF_ERROR(ValidateUuid(params.src_img_uuid, "srcImgUUID"));
  }
  if (has_parent) RETURN_IF_ERROR(ValidateUuid(params.src_vol_uuid, "srcVolUUID"));
  if (has_parent && params.src_vol_uuid == params.vol_uuid) {
    return InvalidParameter("a volume cannot be its own parent");
  }
  std::optional<Parent> parent;
  if (has_parent) {
    ASSIGN_OR_RETURN(parent, CheckParent(params));
  }
  ASSIGN_OR_RETURN(
      CheckedVolumeRequest checked,
      CheckVolumeRequest({.kind = DomainKind::kFile,
                          .format = params.format,
                          .allocation = params.allocation,
                          .capacity = params.capacity,
                          .initial_size = params.initial_size,
                          .has_parent = has_parent,
                          .parent_capacity = parent ? parent->md.capacity : 0}));
  for (const std::string* p : {&paths.meta, &paths.data}) {
    ASSIGN_OR_RETURN(bool exists, FileExists(env, *p));
    if (exists) return AlreadyExists(params.vol_uuid);
  }

  bool created_dir = false;
  Result<FileStat> dir_stat = env.Stat(image_dir);
  if (!dir_stat.ok()) {
    if (dir_stat.status().code() != Code::kNotFound) return dir_stat.status();
    RETURN_IF_ERROR(WithStorageCode(env.CreateDir(image_dir, kDirMode),
                                    storage_code::kImagePathError));
    created_dir = true;
    if (Status synced = env.SyncDir(layout.images_dir()); !synced.ok()) {
      (void)env.RemoveDir(image_dir);
      return WithStorageCode(synced, storage_code::kImagePathError);
    }
  } else if (dir_stat->type != FileType::kDirectory) {
    return Status(Code::kFailedPrecondition,
                  "image path " + image_dir + " is not a directory",
                  storage_code::kImagePathError);
  }

  std::vector<std::string> created;  // removed in reverse order on failure
  Status s = Status::Ok();
  if (parent && parent->template_in_other_image) {
    ASSIGN_OR_RETURN(VolumePaths link,
                     layout.Volume(params.img_uuid, parent->vol));
    // .meta last: a linked template counts once its .meta is there.
    for (auto [from, to] : {std::pair{&parent->paths.data, &link.data},
                            std::pair{&parent->paths.lease, &link.lease},
                            std::pair{&parent->paths.meta, &link.meta}}) {
      s = env.Link(*from, *to);
      if (!s.ok()) break;
      created.push_back(*to);
    }
  }
  if (s.ok()) s = CreateFiles(params, parent ? &*parent : nullptr,
                              checked.capacity, paths);
  if (s.ok()) {
    created.push_back(paths.data);
    created.push_back(paths.meta);
    created.push_back(paths.lease);
  } else {
    // CreateFiles cleaned up its own files; undo the links and the dir.
    for (auto it = created.rbegin(); it != created.rend(); ++it) {
      (void)RemoveIfExists(env, *it);
    }
    if (created_dir) (void)env.RemoveDir(image_dir);
    (void)env.SyncDir(created_dir ? layout.images_dir() : image_dir);
    if (s.storage_code() == 0) {
      s = WithStorageCode(s, storage_code::kVolumeCreationError);
    }
    return s;
  }
  if (parent && !parent->template_in_other_image) {
    CrashPoint(crash_point::kFileVolumeCreateBeforeParentInternal);
    parent->md.role = VolumeRole::kInternal;
    Status marked = WriteVolumeMeta(env, parent->paths.meta, parent->md);
    if (!marked.ok()) {
      return marked.Annotate("volume " + params.vol_uuid +
                             " was created but its parent could not be "
                             "marked INTERNAL (RecoverDomain repairs it)");
    }
  }
  return Status::Ok();
}

Status FileVolumes::CreateFiles(const CreateVolumeParams& params,
                                const Parent* parent, uint64_t capacity,
                                const VolumePaths& paths) {
  Env& env = domain_.env();
  Status made = env.WriteFile(paths.data, "",
                              {FileCreation::kExclusive, Durability::kNoSync,
                               kVolumeFileMode});
  if (made.code() == Code::kAlreadyExists) return AlreadyExists(params.vol_uuid);
  RETURN_IF_ERROR(made);
  CrashPoint(crash_point::kFileVolumeCreateAfterData);

  bool meta_attempted = false;
  bool lease_created = false;
  auto body = [&]() -> Status {
    CreateOptions create{.path = paths.data,
                         .format = params.format,
                         .size = capacity};
    if (parent) {
      create.backing = parent->vol;  // bare UUID, relative to the image dir
      create.backing_format = parent->md.format;
    }
    RETURN_IF_ERROR(qemu_img_.Create(create));
    CrashPoint(crash_point::kFileVolumeCreateAfterQemuImg);
    if (params.allocation == Allocation::kPreallocated) {
      if (params.format == VolumeFormat::kRaw) {
        RETURN_IF_ERROR(
            env.Fallocate(paths.data, FallocateMode::kAllocate, 0, capacity));
      } else {
        ASSIGN_OR_RETURN(QemuImgCheck check,
                         qemu_img_.Check(paths.data, VolumeFormat::kCow));
        ASSIGN_OR_RETURN(QemuImgMeasure measure,
                         qemu_img_.Measure(paths.data, VolumeFormat::kCow,
                                           VolumeFormat::kCow));
        uint64_t start =
            RoundUp(check.image_end_offset.value_or(0), kCapacityAlignment);
        if (measure.fully_allocated > start) {
          RETURN_IF_ERROR(env.Fallocate(paths.data, FallocateMode::kAllocate,
                                        start,
                                        measure.fully_allocated - start));
        }
      }
    }
    // qemu-img does not fsync; the data must be durable before the commit.
    RETURN_IF_ERROR(env.Fsync(paths.data));

    VolumeMetadata md;
    md.capacity = capacity;
    md.ctime = std::chrono::duration_cast<std::chrono::seconds>(
                   domain_.clock().WallNow().time_since_epoch())
                   .count();
    md.description = params.description;
    md.disk_type = params.disk_type;
    md.domain = domain_.layout().sd_uuid();
    md.format = params.format;
    md.image = params.img_uuid;
    md.legality = params.legality;
    md.parent = parent ? parent->vol : std::string(formats::kBlankUuid);
    md.sequence = params.sequence;
    md.allocation = params.allocation;
    md.role = VolumeRole::kLeaf;
    // The commit point. If it fails even after the rename (only the
    // directory sync failed) the .meta is ours and is removed below.
    meta_attempted = true;
    RETURN_IF_ERROR(WriteVolumeMeta(env, paths.meta, md));
    CrashPoint(crash_point::kFileVolumeCreateAfterMeta);
    RETURN_IF_ERROR(env.WriteFile(paths.lease, "",
                                  {FileCreation::kExclusive,
                                   Durability::kNoSync, kVolumeFileMode}));
    lease_created = true;
    CrashPoint(crash_point::kFileVolumeCreateAfterLease);
    // Un-committed below if this fails: without a durable lease entry the
    // volume cannot be used.
    return env.SyncDir(DirName(paths.data));
  };
  Status s = body();
  if (!s.ok()) {
    if (lease_created) (void)RemoveIfExists(env, paths.lease);
    if (meta_attempted) (void)RemoveIfExists(env, paths.meta);
    (void)RemoveIfExists(env, paths.data);
  }
  return s;
}

Result<formats::VolumeMetadata> FileVolumes::GetMetadataUnlocked(std::string_view img,
                                                         std::string_view vol) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  return ReadVolumeMeta(domain_.env(), paths.meta);
}

Result<VolumeSize> FileVolumes::GetSizeUnlocked(std::string_view img,
                                        std::string_view vol) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(FileStat st, domain_.env().Stat(paths.data));
  return VolumeSize{st.size, st.allocated_bytes};
}

Result<VolumeInfo> FileVolumes::GetInfoUnlocked(std::string_view img,
                                        std::string_view vol) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  VolumeInfo info;
  ASSIGN_OR_RETURN(info.metadata, ReadVolumeMeta(domain_.env(), paths.meta));
  info.uuid = std::string(vol);
  info.lease_path = paths.lease;
  Result<FileStat> st = domain_.env().Stat(paths.data);
  if (st.ok()) {
    info.apparent_size = st->size;
    info.true_size = st->allocated_bytes;
  }
  if (!st.ok()) {
    info.status = "INVALID";
  } else if (info.metadata.legality == Legality::kIllegal) {
    info.status = "ILLEGAL";
  } else {
    info.status = "OK";
  }
  ASSIGN_OR_RETURN(info.children, ChildrenUnlocked(img, vol));
  return info;
}

Status FileVolumes::SetDescriptionUnlocked(std::string_view img, std::string_view vol,
                                   std::string_view description) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
  md.description = std::string(description);  // the encoder truncates
  return WriteVolumeMeta(domain_.env(), paths.meta, md);
}

Status FileVolumes::SetLegalityUnlocked(std::string_view img, std::string_view vol,
                                Legality legality) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
  if (md.legality == legality) return Status::Ok();
  md.legality = legality;
  return WriteVolumeMeta(domain_.env(), paths.meta, md);
}

Status FileVolumes::ExtendSizeUnlocked(std::string_view img, std::string_view vol,
                               int64_t new_capacity) {
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
  if (md.role != VolumeRole::kLeaf) {
    return Status(Code::kFailedPrecondition,
                  "only a leaf volume can be extended",
                  storage_code::kVolumeExtendingError);
  }
  Result<uint64_t> size = CheckCapacity(new_capacity);
  if (!size.ok()) {
    return WithStorageCode(size.status(), storage_code::kVolumeResizeValueError);
  }
  if (*size < md.capacity) {
    return Status(Code::kInvalidArgument,
                  "new size " + std::to_string(*size) +
                      " is smaller than the capacity " +
                      std::to_string(md.capacity),
                  storage_code::kVolumeResizeValueError);
  }
  if (*size == md.capacity) return Status::Ok();
  RETURN_IF_ERROR(qemu_img_.Resize(paths.data, md.format, *size));
  if (md.format == VolumeFormat::kRaw &&
      md.allocation == Allocation::kPreallocated) {
    RETURN_IF_ERROR(WithStorageCode(
        domain_.env().Fallocate(paths.data, FallocateMode::kAllocate,
                                md.capacity, *size - md.capacity),
        storage_code::kVolumeExtendingError));
  }
  RETURN_IF_ERROR(domain_.env().Fsync(paths.data));
  md.capacity = *size;
  return WriteVolumeMeta(domain_.env(), paths.meta, md);
}

Result<std::vector<std::string>> FileVolumes::ChildrenUnlocked(std::string_view img,
                                                       std::string_view vol) {
  ASSIGN_OR_RETURN(std::vector<std::string> volumes, domain_.GetVolumes(img));
  std::vector<std::string> children;
  for (const std::string& other : volumes) {
    if (other == vol) continue;
    ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, other));
    ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(domain_.env(), paths.meta));
    if (md.parent == vol) children.push_back(other);
  }
  return children;
}

Status FileVolumes::DeleteUnlocked(std::string_view img, std::string_view vol) {
  Env& env = domain_.env();
  ASSIGN_OR_RETURN(VolumePaths paths, domain_.layout().Volume(img, vol));
  ASSIGN_OR_RETURN(VolumeMetadata md, ReadVolumeMeta(env, paths.meta));
  bool shared_elsewhere = false;
  if (md.role == VolumeRole::kShared) {
    Result<FileStat> st = env.Stat(paths.data);
    shared_elsewhere = md.image != img || (st.ok() && st->nlink > 1);
  }
  ASSIGN_OR_RETURN(std::vector<std::string> children,
                   ChildrenUnlocked(img, vol));
  RETURN_IF_ERROR(CheckVolumeDeletable({.vol = vol,
                                        .md = &md,
                                        .shared_elsewhere = shared_elsewhere,
                                        .children = std::move(children)}));
  // ILLEGAL and detached from its parent first: a crash from here on leaves
  // a volume nobody uses and RecoverDomain finishes the removal.
  std::string parent = md.parent;
  md.legality = Legality::kIllegal;
  md.parent = std::string(formats::kBlankUuid);
  RETURN_IF_ERROR(WriteVolumeMeta(env, paths.meta, md));
  CrashPoint(crash_point::kFileVolumeDeleteAfterIllegal);
  auto removal = [&]() -> Status {
    RETURN_IF_ERROR(RemoveIfExists(env, paths.data));
    CrashPoint(crash_point::kFileVolumeDeleteAfterData);
    RETURN_IF_ERROR(RemoveIfExists(env, paths.lease));
    CrashPoint(crash_point::kFileVolumeDeleteAfterLease);
    RETURN_IF_ERROR(env.RemoveFile(paths.meta));
    return env.SyncDir(DirName(paths.meta));
  };
  RETURN_IF_ERROR(
      WithStorageCode(removal(), storage_code::kCannotDeleteVolume));
  if (IsBlankUuid(parent)) return Status::Ok();
  // Re-check the parent in this image: without children it is a leaf again.
  ASSIGN_OR_RETURN(VolumePaths parent_paths,
                   domain_.layout().Volume(img, parent));
  Result<VolumeMetadata> parent_md = ReadVolumeMeta(env, parent_paths.meta);
  if (!parent_md.ok() || parent_md->role != VolumeRole::kInternal) {
    return Status::Ok();  // a template link, or nothing to do
  }
  ASSIGN_OR_RETURN(std::vector<std::string> siblings,
                   ChildrenUnlocked(img, parent));
  if (!siblings.empty()) return Status::Ok();
  parent_md->role = VolumeRole::kLeaf;
  return WriteVolumeMeta(env, parent_paths.meta, *parent_md);
}

}  // namespace sanpool::file_domain
