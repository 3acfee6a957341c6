#include "domains/file/file_layout.h"

#include <cassert>

#include "base/env.h"
#include "base/uuid.h"

namespace sanpool::file_domain {

Result<FileDomainLayout> FileDomainLayout::Make(std::string mount_dir,
                                                std::string_view sd_uuid) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  if (mount_dir.empty()) {
    return InvalidArgumentError("domain mount directory is empty");
  }
  return FileDomainLayout(std::move(mount_dir), std::string(sd_uuid));
}

FileDomainLayout::FileDomainLayout(std::string mount_dir, std::string sd_uuid)
    : mount_dir_(std::move(mount_dir)),
      sd_uuid_(std::move(sd_uuid)),
      domain_dir_(JoinPath(mount_dir_, sd_uuid_)) {}

std::string FileDomainLayout::metadata_dir() const {
  return JoinPath(domain_dir_, kMetadataDirName);
}

std::string FileDomainLayout::metadata_file() const {
  return JoinPath(metadata_dir(), kMetadataFileName);
}

std::string FileDomainLayout::images_dir() const {
  return JoinPath(domain_dir_, kImagesDirName);
}

std::string FileDomainLayout::special_file(std::string_view name) const {
  bool known = name == kMetadataFileName;
  for (const SpecialFile& f : kSpecialFiles) known = known || f.name == name;
  assert(known && "not a special file name");
  (void)known;
  return JoinPath(metadata_dir(), name);
}

Result<std::string> FileDomainLayout::ImageDir(std::string_view img) const {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  return JoinPath(images_dir(), img);
}

Result<std::string> FileDomainLayout::RemovedImageDir(
    std::string_view img) const {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  return JoinPath(images_dir(), std::string(kRemovedImagePrefix) +
                                    std::string(img));
}

Result<VolumePaths> FileDomainLayout::Volume(std::string_view img,
                                             std::string_view vol) const {
  ASSIGN_OR_RETURN(std::string dir, ImageDir(img));
  RETURN_IF_ERROR(ValidateUuid(vol, "volUUID"));
  VolumePaths paths;
  paths.data = JoinPath(dir, vol);
  paths.meta = paths.data + std::string(kMetaSuffix);
  paths.lease = paths.data + std::string(kLeaseSuffix);
  return paths;
}

VolumeEntry ClassifyVolumeEntry(std::string_view name) {
  constexpr size_t kUuidLen = 36;
  VolumeEntry entry;
  if (name.size() < kUuidLen || !IsValidUuid(name.substr(0, kUuidLen))) {
    return entry;
  }
  std::string_view rest = name.substr(kUuidLen);
  if (rest.empty()) {
    entry.kind = VolumeEntryKind::kData;
  } else if (rest == kMetaSuffix) {
    entry.kind = VolumeEntryKind::kMeta;
  } else if (rest == kLeaseSuffix) {
    entry.kind = VolumeEntryKind::kLease;
  } else {
    return entry;
  }
  entry.vol_uuid = std::string(name.substr(0, kUuidLen));
  return entry;
}

}  // namespace sanpool::file_domain
