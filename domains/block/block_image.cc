#include "domains/block/block_image.h"

#include "base/log.h"
#include "base/uuid.h"
#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

std::string JoinPath(const std::string& a, std::string_view b) {
  return a + "/" + std::string(b);
}

lvm::TagChange ToLvm(const TagChange& change) {
  return {.add = change.add, .del = change.remove};
}

// Removes `dir` and the links in it (nothing else is ever created there).
Status RemoveLinkDir(Env& env, const std::string& dir) {
  Result<std::vector<std::string>> names = env.ListDir(dir);
  if (!names.ok()) {
    return names.status().code() == Code::kNotFound ? Status::Ok()
                                                    : names.status();
  }
  for (const std::string& name : *names) {
    Status s = env.RemoveFile(JoinPath(dir, name));
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  Status s = env.RemoveDir(dir);
  return s.code() == Code::kNotFound ? Status::Ok() : s;
}

}  // namespace

BlockImages::BlockImages(BlockDomain& domain, BlockVolumes& volumes,
                         ImageLocks& locks, std::string run_dir)
    : domain_(domain),
      volumes_(volumes),
      locks_(locks),
      run_dir_(std::move(run_dir)),
      activations_(*domain.deps().activator, domain.sd_uuid()) {}

Result<std::string> BlockImages::RunImageDir(std::string_view img) const {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  return JoinPath(JoinPath(run_dir_, domain_.sd_uuid()), img);
}

std::vector<std::string> BlockImages::PreparedImages() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [img, prepared] : prepared_) out.push_back(img);
  return out;
}

std::optional<ImageHolders> BlockImages::Holders(std::string_view img) const {
  return activations_.Holders(std::string(img));
}

Result<PreparedImage> BlockImages::Prepare(std::string_view img,
                                           std::string_view vol,
                                           IllegalVolumes illegal,
                                           ImageAccess access) {
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  // Exclusive: prepares and teardowns of one image (their links) one at a
  // time; each is short.
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  const std::string img_uuid(img);
  {
    MutexLock lock(mu_);
    auto it = prepared_.find(img_uuid);
    if (it != prepared_.end() && it->second.chain.front().vol_uuid != vol) {
      return Status(Code::kFailedPrecondition,
                    "image " + img_uuid + " is prepared for volume " +
                        it->second.chain.front().vol_uuid);
    }
  }
  std::map<std::string, int> slots;
  auto lookup = [&](const std::string& v) -> Result<formats::VolumeMetadata> {
    ASSIGN_OR_RETURN(BlockVolumes::Volume found,
                     volumes_.Find(img, v, /*any_image=*/v != vol));
    slots[v] = found.lv.tags.slot;
    return found.md;
  };
  ASSIGN_OR_RETURN(std::vector<ChainVolume> chain,
                   WalkChain(img, vol, lookup, illegal));

  Env& env = *domain_.deps().env;
  std::vector<std::string> chain_uuids;
  for (const ChainVolume& v : chain) chain_uuids.push_back(v.vol_uuid);
  ASSIGN_OR_RETURN(std::vector<std::string> devices,
                   activations_.Acquire(img_uuid, chain_uuids, access));
  PreparedImage prepared;
  auto link_all = [&]() -> Status {
    for (size_t i = 0; i < chain_uuids.size(); ++i) {
      prepared.chain.push_back({chain_uuids[i],
                                JoinPath(run_img_dir, chain_uuids[i]),
                                devices[i]});
    }
    RETURN_IF_ERROR(env.CreateDirs(run_img_dir, 0755));
    for (const PreparedVolume& v : prepared.chain) {
      Result<std::string> existing = env.ReadLink(v.path);
      if (existing.ok() && *existing == v.target) continue;
      if (existing.ok()) RETURN_IF_ERROR(env.RemoveFile(v.path));
      RETURN_IF_ERROR(env.Symlink(v.target, v.path));
    }
    ASSIGN_OR_RETURN(prepared.lease, volumes_.Lease(slots[std::string(vol)]));
    return Status::Ok();
  };
  if (Status s = link_all(); !s.ok()) {
    Result<int> left = activations_.Release(img_uuid, access);
    if (left.ok() && *left == 0) (void)RemoveLinkDir(env, run_img_dir);
    return s;
  }
  prepared.path = prepared.chain.front().path;
  MutexLock lock(mu_);
  prepared_[img_uuid] = prepared;
  return prepared;
}

Status BlockImages::Teardown(std::string_view img, ImageAccess access) {
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  Env& env = *domain_.deps().env;
  const std::string img_uuid(img);
  Status unmapped = Status::Ok();
  if (activations_.Holders(img_uuid)) {
    Result<int> left = activations_.Release(img_uuid, access);
    if (left.ok() && *left > 0) return Status::Ok();  // other holders
    unmapped = left.status();
    MutexLock lock(mu_);
    prepared_.erase(img_uuid);
  } else {
    // Prepared by an earlier agent run: unmap what the links name, unless
    // still open.
    Result<std::vector<std::string>> names = env.ListDir(run_img_dir);
    if (names.ok()) {
      for (const std::string& v : *names) {
        if (!IsValidUuid(v)) continue;
        Status s = domain_.deps().activator->ForceDeactivate(
            domain_.sd_uuid(), v);
        if (unmapped.ok()) unmapped = s;
      }
    }
  }
  RETURN_IF_ERROR(RemoveLinkDir(env, run_img_dir));
  return unmapped;
}

Status BlockImages::Delete(std::string_view img, PostZero zero) {
  RETURN_IF_ERROR(ValidateUuid(img, "imgUUID"));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kExclusive}}));
  if (activations_.Holders(std::string(img))) {
    return Status(Code::kFailedPrecondition,
                  "image " + std::string(img) + " is prepared on this host",
                  storage_code::kImageDeleteError);
  }
  ASSIGN_OR_RETURN(std::vector<VolumeLv> lvs, domain_.ListVolumeLvs());
  std::vector<const VolumeLv*> mine;
  for (const VolumeLv& lv : lvs) {
    if (lv.tags.state == LvState::kReady && lv.tags.image == img) {
      mine.push_back(&lv);
    }
  }
  if (mine.empty()) {
    return Status(Code::kNotFound,
                  "image " + std::string(img) + " does not exist",
                  storage_code::kImageDoesNotExistInSd);
  }
  for (const VolumeLv* v : mine) {
    for (const VolumeLv& other : lvs) {
      if (other.tags.state == LvState::kReady && other.tags.image != img &&
          other.tags.parent == v->vol_uuid) {
        return Status(Code::kFailedPrecondition,
                      "template volume " + v->vol_uuid +
                          " is used by image " + other.tags.image,
                      storage_code::kCannotDeleteSharedVolume);
      }
    }
  }
  const LvState target =
      zero == PostZero::kYes ? LvState::kZeroing : LvState::kRemoving;
  for (const VolumeLv* v : mine) {
    ASSIGN_OR_RETURN(TagChange change, MarkForRemovalChange(v->tags, target));
    RETURN_IF_ERROR(WithStorageCode(
        domain_.deps().lvm->LvChangeTags(domain_.sd_uuid(), v->vol_uuid,
                                         ToLvm(change)),
        storage_code::kImageDeleteError));
  }
  for (const VolumeLv* v : mine) {
    RETURN_IF_ERROR(WithStorageCode(
        volumes_.FinishRemoval(v->vol_uuid, v->tags.slot, zero),
        storage_code::kImageDeleteError));
  }
  return Status::Ok();
}

}  // namespace sanpool::block
