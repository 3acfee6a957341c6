#include "domains/file/file_image.h"

#include "base/crash_point.h"
#include "base/uuid.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {

FileImages::FileImages(FileDomain& domain, ImageLocks& locks,
                       std::string run_dir)
    : domain_(domain), locks_(locks), run_dir_(std::move(run_dir)) {}

Result<std::string> FileImages::RunImageDir(std::string_view img) const {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  return JoinPath(JoinPath(run_dir_, domain_.layout().sd_uuid()), img);
}

Status FileImages::Delete(std::string_view img) {
  Env& env = domain_.env();
  ASSIGN_OR_RETURN(std::string dir, domain_.layout().ImageDir(img));
  ASSIGN_OR_RETURN(std::string removed, domain_.layout().RemovedImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  Result<FileStat> st = env.StatLink(dir);
  if (!st.ok() || st->type != FileType::kDirectory) {
    return Status(Code::kNotFound,
                  "image " + std::string(img) + " does not exist",
                  storage_code::kImageDoesNotExistInSd);
  }
  // A leftover of an earlier interrupted delete of the same image id.
  RETURN_IF_ERROR(RemoveTree(env, removed));
  RETURN_IF_ERROR(WithStorageCode(env.Rename(dir, removed),
                                  storage_code::kImageDeleteError));
  CrashPoint(crash_point::kFileImageDeleteAfterRename);
  RETURN_IF_ERROR(env.SyncDir(domain_.layout().images_dir()));
  Status purged = RemoveTree(env, removed);
  if (purged.ok()) purged = env.SyncDir(domain_.layout().images_dir());
  return WithStorageCode(purged, storage_code::kImageDeleteError);
}

Result<PreparedImage> FileImages::Prepare(std::string_view img,
                                          std::string_view vol,
                                          IllegalVolumes illegal) {
  Env& env = domain_.env();
  const FileDomainLayout& layout = domain_.layout();
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kShared}}));
  PreparedImage prepared;
  auto lookup = [&](const std::string& v) -> Result<formats::VolumeMetadata> {
    ASSIGN_OR_RETURN(VolumePaths paths, layout.Volume(img, v));
    return ReadVolumeMeta(env, paths.meta);
  };
  ASSIGN_OR_RETURN(std::vector<ChainVolume> chain,
                   WalkChain(img, vol, lookup, illegal));
  for (const ChainVolume& link : chain) {
    ASSIGN_OR_RETURN(VolumePaths paths, layout.Volume(img, link.vol_uuid));
    RETURN_IF_ERROR(env.Stat(paths.data).status());
    prepared.chain.push_back({link.vol_uuid,
                              JoinPath(run_img_dir, link.vol_uuid), paths.data,
                              paths.lease});
  }
  RETURN_IF_ERROR(env.CreateDirs(run_img_dir, 0755));
  for (const PreparedVolume& v : prepared.chain) {
    Result<std::string> existing = env.ReadLink(v.path);
    if (existing.ok() && *existing == v.target) continue;
    if (existing.ok()) RETURN_IF_ERROR(env.RemoveFile(v.path));
    RETURN_IF_ERROR(env.Symlink(v.target, v.path));
  }
  prepared.path = prepared.chain.front().path;
  return prepared;
}

Status FileImages::Teardown(std::string_view img) {
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kShared}}));
  return RemoveTree(domain_.env(), run_img_dir);
}

}  // namespace sanpool::file_domain
