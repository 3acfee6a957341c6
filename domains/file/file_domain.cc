#include "domains/file/file_domain.h"

#include <algorithm>
#include <set>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/uuid.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

constexpr size_t kMaxMetadataFileBytes = formats::kMaxDomainMetadataBytes;

Status CreationError(const Status& s) {
  return WithStorageCode(s, storage_code::kStorageDomainCreationError);
}

// The tree below the (already created) domain dir, metadata last.
Status BuildTree(Env& env, const FileDomainLayout& layout,
                 const std::string& metadata_bytes) {
  RETURN_IF_ERROR(env.CreateDir(layout.metadata_dir(), kDirMode));
  for (const SpecialFile& f : kSpecialFiles) {
    std::string path = layout.special_file(f.name);
    RETURN_IF_ERROR(env.WriteFile(
        path, "", {FileCreation::kExclusive, Durability::kNoSync,
                   kMetadataFileMode}));
    if (f.size > 0) RETURN_IF_ERROR(env.Truncate(path, f.size));
  }
  RETURN_IF_ERROR(env.CreateDir(layout.images_dir(), kDirMode));
  CrashPoint(crash_point::kFileDomainCreateAfterTree);
  RETURN_IF_ERROR(env.SyncDir(layout.metadata_dir()));
  RETURN_IF_ERROR(env.SyncDir(layout.domain_dir()));
  RETURN_IF_ERROR(env.SyncDir(layout.mount_dir()));
  // The commit point: a domain dir without metadata is an interrupted create.
  CrashPoint(crash_point::kFileDomainCreateBeforeMetadata);
  return env.WriteFileAtomic(layout.metadata_file(), metadata_bytes,
                             kMetadataFileMode);
}

Result<DomainMetadata> ReadMetadataFile(Env& env,
                                        const FileDomainLayout& layout) {
  Result<std::string> bytes =
      env.ReadFile(layout.metadata_file(), kMaxMetadataFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound,
                    "storage domain metadata not found: " +
                        layout.metadata_file(),
                    storage_code::kStorageDomainMetadataNotFound);
    }
    return bytes.status();
  }
  Result<DomainMetadata> md = DecodeDomainMetadataFile(*bytes);
  if (!md.ok()) return md.status().Annotate(layout.metadata_file());
  return md;
}

}  // namespace

FileDomain::FileDomain(Env& env, Clock& clock, FileDomainLayout layout)
    : env_(env), clock_(clock), layout_(std::move(layout)) {}

Result<std::unique_ptr<FileDomain>> FileDomain::Create(
    Env& env, Clock& clock, std::string mount_dir,
    const CreateDomainParams& params) {
  ASSIGN_OR_RETURN(FileDomainLayout layout,
                   FileDomainLayout::Make(std::move(mount_dir),
                                          params.sd_uuid));
  if (!IsFileDomainType(params.type)) {
    return InvalidParameter("domain type " +
                            std::string(ToString(params.type)) +
                            " is not a file domain type");
  }
  if (params.block_size != 0 && params.block_size != 512 &&
      params.block_size != 4096) {
    return InvalidParameter("blockSize must be 0 (auto), 512 or 4096");
  }
  DomainMetadata md;
  md.sd_uuid = params.sd_uuid;
  md.type = params.type;
  md.domain_class = params.domain_class;
  md.description = params.description;
  md.remote_path = params.remote_path;
  md.block_size = params.block_size == 0 ? 512 : params.block_size;
  ASSIGN_OR_RETURN(md.alignment, AlignmentFor(md.block_size, params.max_hosts));
  RETURN_IF_ERROR(ValidateDomainMetadata(md));

  // Checks that need the storage, before anything is written.
  Result<FileStat> mount = env.Stat(layout.mount_dir());
  if (!mount.ok() || mount->type != FileType::kDirectory) {
    return Status(Code::kFailedPrecondition,
                  "domain mount path " + layout.mount_dir() +
                      (mount.ok() ? " is not a directory"
                                  : " is not accessible: " +
                                        std::string(mount.status().message())),
                  storage_code::kStorageDomainCreationError);
  }
  Result<FileStat> existing = env.StatLink(layout.domain_dir());
  if (existing.ok()) {
    return Status(Code::kAlreadyExists,
                  "storage domain path " + layout.domain_dir() +
                      (existing->type == FileType::kDirectory
                           ? " already exists"
                           : " exists and is not a directory"),
                  storage_code::kStorageDomainAlreadyExists);
  }
  if (existing.status().code() != Code::kNotFound) {
    return CreationError(existing.status());
  }
  Result<size_t> probed = env.ProbeBlockSize(layout.mount_dir());
  if (!probed.ok()) {
    return Status(Code::kFailedPrecondition,
                  "direct I/O is not supported in " + layout.mount_dir() +
                      ": " + std::string(probed.status().message()),
                  storage_code::kStorageDomainTargetUnsupported);
  }
  if (params.block_size == 0) {
    md.block_size = static_cast<uint32_t>(*probed);
    ASSIGN_OR_RETURN(md.alignment,
                     AlignmentFor(md.block_size, params.max_hosts));
  } else if (params.block_size < *probed) {
    return Status(Code::kFailedPrecondition,
                  "block size " + std::to_string(params.block_size) +
                      " does not match storage block size " +
                      std::to_string(*probed),
                  storage_code::kStorageDomainTargetUnsupported);
  }
  ASSIGN_OR_RETURN(std::string metadata_bytes, EncodeDomainMetadataFile(md));

  Status made = env.CreateDir(layout.domain_dir(), kDirMode);
  if (made.code() == Code::kAlreadyExists) {
    return WithStorageCode(made, storage_code::kStorageDomainAlreadyExists);
  }
  RETURN_IF_ERROR(CreationError(made));
  if (Status built = BuildTree(env, layout, metadata_bytes); !built.ok()) {
    // Undo everything: a half-built domain must not look like a domain.
    if (Status undo = RemoveTree(env, layout.domain_dir()); !undo.ok()) {
      log::Warning("file-domain", "cannot remove half-created domain",
                   {{"path", layout.domain_dir()}, {"error", undo.ToString()}});
    }
    return CreationError(built);
  }
  return std::unique_ptr<FileDomain>(
      new FileDomain(env, clock, std::move(layout)));
}

Result<std::unique_ptr<FileDomain>> FileDomain::Open(Env& env, Clock& clock,
                                                     std::string mount_dir,
                                                     std::string_view sd_uuid) {
  ASSIGN_OR_RETURN(FileDomainLayout layout,
                   FileDomainLayout::Make(std::move(mount_dir), sd_uuid));
  Result<FileStat> st = env.Stat(layout.domain_dir());
  if (!st.ok() || st->type != FileType::kDirectory) {
    return Status(Code::kNotFound,
                  "storage domain does not exist: " + layout.domain_dir(),
                  storage_code::kStorageDomainDoesNotExist);
  }
  std::unique_ptr<FileDomain> domain(
      new FileDomain(env, clock, std::move(layout)));
  ASSIGN_OR_RETURN(DomainMetadata md, domain->ReadMetadata());
  if (md.sd_uuid != sd_uuid) {
    return Status(Code::kDataLoss,
                  "domain metadata SDUUID " + md.sd_uuid +
                      " does not match its directory",
                  storage_code::kMetaDataValidationError);
  }
  return domain;
}

Status FileDomain::Format(Env& env, std::string mount_dir,
                          std::string_view sd_uuid) {
  ASSIGN_OR_RETURN(FileDomainLayout layout,
                   FileDomainLayout::Make(std::move(mount_dir), sd_uuid));
  Result<FileStat> st = env.StatLink(layout.domain_dir());
  if (!st.ok() || st->type != FileType::kDirectory) {
    return Status(Code::kNotFound,
                  "storage domain does not exist: " + layout.domain_dir(),
                  storage_code::kStorageDomainDoesNotExist);
  }
  Result<DomainMetadata> md = ReadMetadataFile(env, layout);
  if (md.ok() && !md->pool_uuids.empty()) {
    return Status(Code::kFailedPrecondition,
                  "cannot format storage domain attached to pool " +
                      md->pool_uuids.front(),
                  storage_code::kCannotFormatAttachedStorageDomain);
  }
  // A domain with metadata that does not parse is formatted too: that is
  // what format is for. One without metadata is an interrupted create or
  // format.
  RETURN_IF_ERROR(RemoveIfExists(env, layout.metadata_file()));
  if (Status synced = env.SyncDir(layout.metadata_dir());
      !synced.ok() && synced.code() != Code::kNotFound) {
    return synced;
  }
  RETURN_IF_ERROR(RemoveTree(env, layout.domain_dir()));
  return env.SyncDir(layout.mount_dir());
}

Result<DomainMetadata> FileDomain::ReadMetadata() const {
  return ReadMetadataFile(env_, layout_);
}

Status FileDomain::WriteMetadata(const DomainMetadata& md) {
  if (md.sd_uuid != layout_.sd_uuid()) {
    return InvalidParameter("SDUUID cannot change");
  }
  ASSIGN_OR_RETURN(std::string bytes, EncodeDomainMetadataFile(md));
  return env_.WriteFileAtomic(layout_.metadata_file(), bytes,
                              kMetadataFileMode);
}

Result<DomainInfo> FileDomain::GetInfo() const {
  ASSIGN_OR_RETURN(DomainMetadata md, ReadMetadata());
  DomainInfo info;
  info.uuid = md.sd_uuid;
  info.type = md.type;
  info.domain_class = md.domain_class;
  info.name = md.description;
  info.role = md.role;
  info.pool = md.pool_uuids;
  info.version = md.version;
  info.block_size = md.block_size;
  info.alignment = md.alignment;
  info.remote_path = md.remote_path;
  return info;
}

Result<DomainStats> FileDomain::GetStats() const {
  ASSIGN_OR_RETURN(FsStat fs, env_.StatFs(layout_.domain_dir()));
  DomainStats stats;
  stats.disk_total = fs.total_bytes;
  stats.disk_free = fs.avail_bytes;
  return stats;
}

Status FileDomain::Validate() const {
  RETURN_IF_ERROR(ReadMetadata().status());
  std::vector<std::string> missing;
  for (const SpecialFile& f : kSpecialFiles) {
    Result<FileStat> st = env_.Stat(layout_.special_file(f.name));
    if (!st.ok() || st->type != FileType::kRegular) {
      missing.push_back(std::string(kMetadataDirName) + "/" +
                        std::string(f.name));
    }
  }
  Result<FileStat> images = env_.Stat(layout_.images_dir());
  if (!images.ok() || images->type != FileType::kDirectory) {
    missing.emplace_back(kImagesDirName);
  }
  if (missing.empty()) return Status::Ok();
  std::string list;
  for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
  return Status(Code::kFailedPrecondition,
                "storage domain layout is damaged, missing: " + list,
                storage_code::kStorageDomainLayoutError);
}

Result<std::vector<std::string>> FileDomain::GetImages() const {
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   env_.ListDir(layout_.images_dir()));
  std::vector<std::string> images;
  for (std::string& name : names) {
    if (IsValidUuid(name)) images.push_back(std::move(name));
  }
  return images;
}

Result<std::vector<std::string>> FileDomain::GetVolumes(
    std::string_view img_uuid) const {
  ASSIGN_OR_RETURN(std::string dir, layout_.ImageDir(img_uuid));
  Result<std::vector<std::string>> names = env_.ListDir(dir);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound,
                    "image " + std::string(img_uuid) + " does not exist",
                    storage_code::kImageDoesNotExistInSd);
    }
    return names.status();
  }
  std::vector<std::string> volumes;
  for (const std::string& name : *names) {
    VolumeEntry e = ClassifyVolumeEntry(name);
    if (e.kind == VolumeEntryKind::kMeta) volumes.push_back(e.vol_uuid);
  }
  return volumes;
}

}  // namespace sanpool::file_domain
