#include "domains/block/block_tags.h"

#include <optional>

#include "base/uuid.h"
#include "domains/block/block_layout.h"
#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

Status BadTag(std::string why, std::string_view tag) {
  return Status(Code::kDataLoss, "volume LV tags: " + why,
                storage_code::kMetaDataValidationError)
      .WithDetail("tag", std::string(tag.substr(0, 128)));
}

Status MissingTag(std::string_view prefix) {
  return Status(Code::kDataLoss,
                "volume LV tags: no " + std::string(prefix) + " tag",
                storage_code::kMetaDataKeyNotFound)
      .WithDetail("tag", std::string(prefix));
}

// "1".."1947", plain decimal without sign or leading zero.
std::optional<int> ParseSlot(std::string_view text) {
  if (text.empty() || text.size() > 4 || text.front() == '0') return {};
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return {};
    value = value * 10 + (c - '0');
  }
  if (value < kFirstVolumeSlot || value > kLastVolumeSlot) return {};
  return value;
}

Status CheckReady(const VolumeLvTags& tags) {
  RETURN_IF_ERROR(ValidateUuid(tags.image, "image uuid"));
  RETURN_IF_ERROR(ValidateUuid(tags.parent, "parent uuid"));
  if (tags.slot < kFirstVolumeSlot || tags.slot > kLastVolumeSlot) {
    return InvalidParameter("metadata slot " + std::to_string(tags.slot) +
                            " is outside 1.." +
                            std::to_string(kLastVolumeSlot));
  }
  return Status::Ok();
}

// Sets `*field` once; a second occurrence is a duplicate.
template <typename T>
Status SetOnce(std::optional<T>* field, T value, std::string_view tag) {
  if (field->has_value()) return BadTag("duplicate tag", tag);
  *field = std::move(value);
  return Status::Ok();
}

}  // namespace

std::string ImageTag(std::string_view image, LvState state) {
  std::string tag(kImageTagPrefix);
  if (state == LvState::kRemoving) tag += kRemovedImagePrefix;
  if (state == LvState::kZeroing) tag += kZeroedImagePrefix;
  tag += image;
  return tag;
}

Result<std::vector<std::string>> BuildVolumeLvTags(const VolumeLvTags& tags) {
  if (tags.state == LvState::kInitializing) {
    return std::vector<std::string>{std::string(kInitializingTag)};
  }
  RETURN_IF_ERROR(CheckReady(tags));
  return std::vector<std::string>{
      std::string(kSlotTagPrefix) + std::to_string(tags.slot),
      std::string(kParentTagPrefix) + tags.parent,
      ImageTag(tags.image, tags.state)};
}

Result<VolumeLvTags> ParseVolumeLvTags(const std::vector<std::string>& tags) {
  bool initializing = false;
  std::optional<int> slot;
  std::optional<std::string> parent;
  std::optional<std::string> image;
  LvState state = LvState::kReady;
  for (const std::string& tag : tags) {
    std::string_view t = tag;
    if (t == kInitializingTag) {
      if (initializing) return BadTag("duplicate tag", t);
      initializing = true;
    } else if (t.starts_with(kSlotTagPrefix)) {
      std::optional<int> value = ParseSlot(t.substr(kSlotTagPrefix.size()));
      if (!value) return BadTag("metadata slot is not in 1..1947", t);
      RETURN_IF_ERROR(SetOnce(&slot, *value, t));
    } else if (t.starts_with(kParentTagPrefix)) {
      std::string_view value = t.substr(kParentTagPrefix.size());
      if (!IsValidUuid(value)) return BadTag("parent is not a uuid", t);
      RETURN_IF_ERROR(SetOnce(&parent, std::string(value), t));
    } else if (t.starts_with(kImageTagPrefix)) {
      std::string_view value = t.substr(kImageTagPrefix.size());
      LvState tag_state = LvState::kReady;
      // The ZERO_ prefix extends the remove prefix, so it is tested first.
      if (value.starts_with(kZeroedImagePrefix)) {
        tag_state = LvState::kZeroing;
        value.remove_prefix(kZeroedImagePrefix.size());
      } else if (value.starts_with(kRemovedImagePrefix)) {
        tag_state = LvState::kRemoving;
        value.remove_prefix(kRemovedImagePrefix.size());
      }
      if (!IsValidUuid(value)) return BadTag("image is not a uuid", t);
      RETURN_IF_ERROR(SetOnce(&image, std::string(value), t));
      state = tag_state;
    } else {
      return BadTag("unknown tag", t);
    }
  }
  VolumeLvTags out;
  if (initializing) {
    if (slot || parent || image) {
      return BadTag("initializing LV also carries volume tags",
                    kInitializingTag);
    }
    out.state = LvState::kInitializing;
    return out;
  }
  if (!slot) return MissingTag(kSlotTagPrefix);
  if (!parent) return MissingTag(kParentTagPrefix);
  if (!image) return MissingTag(kImageTagPrefix);
  out.state = state;
  out.slot = *slot;
  out.parent = std::move(*parent);
  out.image = std::move(*image);
  return out;
}

Result<TagChange> FinishCreationChange(const VolumeLvTags& ready) {
  if (ready.state != LvState::kReady) {
    return InvalidParameter("a created volume is tagged as ready");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> add, BuildVolumeLvTags(ready));
  return TagChange{{std::string(kInitializingTag)}, std::move(add)};
}

Result<TagChange> MarkForRemovalChange(const VolumeLvTags& current,
                                       LvState target) {
  if (target != LvState::kRemoving && target != LvState::kZeroing) {
    return InvalidParameter("removal target must be removing or zeroing");
  }
  if (current.state != LvState::kReady) {
    return FailedPreconditionError("volume LV is not in the ready state");
  }
  return TagChange{{ImageTag(current.image, LvState::kReady)},
                   {ImageTag(current.image, target)}};
}

Result<TagChange> ReparentChange(const VolumeLvTags& current,
                                 std::string_view new_parent) {
  if (current.state == LvState::kInitializing) {
    return FailedPreconditionError("volume LV is still initializing");
  }
  RETURN_IF_ERROR(ValidateUuid(new_parent, "parent uuid"));
  return TagChange{{std::string(kParentTagPrefix) + current.parent},
                   {std::string(kParentTagPrefix) + std::string(new_parent)}};
}

Result<std::vector<int>> OccupiedSlots(const std::vector<LvTagList>& lvs) {
  std::vector<int> slots;
  for (const LvTagList& lv : lvs) {
    if (IsSpecialLvName(lv.name)) continue;
    for (const std::string& tag : lv.tags) {
      if (!tag.starts_with(kSlotTagPrefix)) continue;
      std::optional<int> slot =
          ParseSlot(std::string_view(tag).substr(kSlotTagPrefix.size()));
      if (!slot) {
        return BadTag("metadata slot of LV " + lv.name + " is not in 1..1947",
                      tag);
      }
      slots.push_back(*slot);
    }
  }
  return slots;
}

}  // namespace sanpool::block
