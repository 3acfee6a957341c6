#include "domains/volume_chain.h"

#include <set>

#include "domains/storage_errors.h"

namespace sanpool {

using formats::Legality;
using formats::VolumeMetadata;
using formats::VolumeRole;

bool IsBlankUuid(std::string_view uuid) {
  return uuid.empty() || uuid == formats::kBlankUuid;
}

Result<std::vector<ChainVolume>> WalkChain(std::string_view img,
                                           std::string_view vol,
                                           const VolumeMetadataLookup& lookup,
                                           IllegalVolumes illegal) {
  std::vector<ChainVolume> chain;
  std::set<std::string> seen;
  std::string current(vol);
  while (!IsBlankUuid(current)) {
    if (!seen.insert(current).second) {
      return Status(Code::kDataLoss,
                    "image " + std::string(img) + " has a parent cycle",
                    storage_code::kImageIsNotLegalChain);
    }
    Result<VolumeMetadata> md = lookup(current);
    if (!md.ok()) {
      if (md.status().code() == Code::kNotFound && current != vol) {
        return Status(Code::kDataLoss,
                      "image " + std::string(img) + ": parent " + current +
                          " is missing",
                      storage_code::kImageIsNotLegalChain);
      }
      return md.status();
    }
    if (md->legality != Legality::kLegal && illegal == IllegalVolumes::kRefuse) {
      return Status(Code::kFailedPrecondition,
                    "cannot prepare illegal volume " + current,
                    storage_code::kPrepareIllegalVolume);
    }
    std::string next = md->parent;
    chain.push_back({current, std::move(*md)});
    current = std::move(next);
  }
  return chain;
}

Result<bool> CheckSnapshotParent(const SnapshotParent& parent) {
  const VolumeMetadata& md = *parent.md;
  const std::string vol(parent.parent_vol);
  if (md.legality != Legality::kLegal) {
    return Status(Code::kFailedPrecondition,
                  "cannot create a snapshot of illegal volume " + vol,
                  storage_code::kCreateIllegalVolumeSnapshot);
  }
  if (parent.parent_img != parent.target_img) {
    if (md.role != VolumeRole::kShared) {
      return Status(Code::kFailedPrecondition,
                    "parent " + vol + " is in another image (" +
                        std::string(parent.parent_img) +
                        ") and is not a template",
                    storage_code::kVolumeNonShareable);
    }
    // A template starts a new image: the target must hold no volume yet.
    Result<bool> has = parent.target_has_volumes
                           ? parent.target_has_volumes()
                           : Result<bool>(false);
    if (has.ok() && *has) {
      return Status(Code::kFailedPrecondition,
                    "image " + std::string(parent.target_img) +
                        " already has volumes; a template child starts a "
                        "new image",
                    storage_code::kVolumeAlreadyExists);
    }
    return true;
  }
  if (md.role != VolumeRole::kLeaf) {
    return Status(Code::kFailedPrecondition,
                  "parent " + vol + " is not a leaf (" +
                      std::string(formats::ToString(md.role)) + ")",
                  storage_code::kVolumeImageHasChildren);
  }
  return false;
}

Status CheckVolumeDeletable(const DeleteCheck& check) {
  if (check.md->role == VolumeRole::kShared && check.shared_elsewhere) {
    return Status(Code::kFailedPrecondition,
                  "template volume " + std::string(check.vol) +
                      " is shared with other images",
                  storage_code::kCannotDeleteSharedVolume);
  }
  if (!check.children.empty()) {
    return Status(Code::kFailedPrecondition,
                  "volume " + std::string(check.vol) + " has children",
                  storage_code::kVolumeImageHasChildren)
        .WithDetail("children", check.children.front());
  }
  return Status::Ok();
}

std::map<std::string, VolumeRole> ExpectedRoles(
    const std::map<std::string, VolumeMetadata>& volumes) {
  std::set<std::string> parents;
  for (const auto& [vol, md] : volumes) parents.insert(md.parent);
  std::map<std::string, VolumeRole> roles;
  for (const auto& [vol, md] : volumes) {
    if (md.role == VolumeRole::kShared) {
      roles[vol] = VolumeRole::kShared;
    } else {
      roles[vol] =
          parents.contains(vol) ? VolumeRole::kInternal : VolumeRole::kLeaf;
    }
  }
  return roles;
}

}  // namespace sanpool
