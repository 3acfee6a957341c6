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
      run_dir_(std::move(run_dir)) {}

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

Status BlockImages::Unmap(const PreparedImage& image) {
  Activator& activator = *domain_.deps().activator;
  Status first = Status::Ok();
  for (size_t i = 0; i < image.chain.size(); ++i) {
    Status s = activator.Deactivate(
        domain_.sd_uuid(), image.chain[i].vol_uuid,
        i == 0 ? LockMode::kExclusive : LockMode::kShared);
    if (first.ok()) first = s;
  }
  return first;
}

Result<PreparedImage> BlockImages::Prepare(std::string_view img,
                                           std::string_view vol,
                                           IllegalVolumes illegal) {
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kShared}}));
  {
    MutexLock lock(mu_);
    auto it = prepared_.find(std::string(img));
    if (it != prepared_.end() && it->second.chain.front().vol_uuid == vol) {
      return it->second;
    }
    if (it != prepared_.end()) {
      return Status(Code::kFailedPrecondition,
                    "image " + std::string(img) + " is prepared for volume " +
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
  Activator& activator = *domain_.deps().activator;
  PreparedImage prepared;
  auto map_all = [&]() -> Status {
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string& v = chain[i].vol_uuid;
      ASSIGN_OR_RETURN(std::string device,
                       activator.Activate(domain_.sd_uuid(), v,
                                          i == 0 ? LockMode::kExclusive
                                                 : LockMode::kShared));
      prepared.chain.push_back({v, JoinPath(run_img_dir, v), device});
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
  if (Status s = map_all(); !s.ok()) {
    (void)Unmap(prepared);
    (void)RemoveLinkDir(env, run_img_dir);
    return s;
  }
  prepared.path = prepared.chain.front().path;
  MutexLock lock(mu_);
  prepared_[std::string(img)] = prepared;
  return prepared;
}

Status BlockImages::Teardown(std::string_view img) {
  ASSIGN_OR_RETURN(std::string run_img_dir, RunImageDir(img));
  ASSIGN_OR_RETURN(auto held,
                   locks_.Lock({{std::string(img), LockMode::kShared}}));
  Env& env = *domain_.deps().env;
  std::optional<PreparedImage> prepared;
  {
    MutexLock lock(mu_);
    auto it = prepared_.find(std::string(img));
    if (it != prepared_.end()) {
      prepared = std::move(it->second);
      prepared_.erase(it);
    }
  }
  Status unmapped = Status::Ok();
  if (prepared) {
    unmapped = Unmap(*prepared);
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
  {
    MutexLock lock(mu_);
    if (prepared_.contains(std::string(img))) {
      return Status(Code::kFailedPrecondition,
                    "image " + std::string(img) + " is prepared on this host",
                    storage_code::kImageDeleteError);
    }
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
