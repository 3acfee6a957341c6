// LV tags of volumes on an oVirt V5 block domain (reference §2.4, §2.8).
// The tags are the truth about which LVs are volumes, which image and parent
// they belong to and which metadata slot they own; the slot text repeats the
// parent (PUUID) and may be newer after a live merge.
//
//   creating     OVIRT_VOL_INITIALIZING                    (and nothing else)
//   ready        MD_<slot>  PU_<parent|blank uuid>  IU_<image>
//   removing     MD_<slot>  PU_<parent>  IU__remove_me_<image>
//   zeroing      MD_<slot>  PU_<parent>  IU__remove_me_ZERO_<image>
//
// Creation replaces OVIRT_VOL_INITIALIZING by the three tags in one
// `lvchange --deltag ... --addtag MD_ --addtag PU_ --addtag IU_` (LVM applies
// it atomically), so an LV is never seen half-tagged by a correct writer.
// Deletion retags IU_<img> to IU__remove_me_[ZERO_]<img> before zeroing or
// lvremove, so a crash leaves a marked LV the next start finishes.
//
// Parsing is strict: every tag must be one of the above, each of MD_/PU_/IU_
// exactly once, uuids canonical, the slot a plain decimal in 1..1947. Errors
// are kDataLoss: a missing tag carries storage code 751, a duplicate,
// unknown, garbled or mixed tag 753, and a detail "tag" names the culprit.
//
// Thread-safety: pure functions and plain values.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_TAGS_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_TAGS_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::block {

inline constexpr std::string_view kImageTagPrefix = "IU_";     // TAG_PREFIX_IMAGE
inline constexpr std::string_view kParentTagPrefix = "PU_";    // TAG_PREFIX_PARENT
inline constexpr std::string_view kSlotTagPrefix = "MD_";      // TAG_PREFIX_MD
inline constexpr std::string_view kInitializingTag = "OVIRT_VOL_INITIALIZING";
inline constexpr std::string_view kRemovedImagePrefix = "_remove_me_";
inline constexpr std::string_view kZeroedImagePrefix = "_remove_me_ZERO_";

enum class LvState {
  kInitializing,  // created, not yet a volume: roll back (lvremove)
  kReady,
  kRemoving,      // IU__remove_me_: finish with lvremove
  kZeroing,       // IU__remove_me_ZERO_: zero, then lvremove
};

// What the tags of one volume LV say. For kInitializing only `state` is
// meaningful (the other fields are empty / 0).
struct VolumeLvTags {
  LvState state = LvState::kReady;
  std::string image;   // without any _remove_me_ prefix
  std::string parent;  // blank uuid for a base volume
  int slot = 0;

  bool operator==(const VolumeLvTags&) const = default;
};

// One `lvchange --deltag ... --addtag ...` (also used for VG tags).
struct TagChange {
  std::vector<std::string> remove;
  std::vector<std::string> add;

  bool operator==(const TagChange&) const = default;
};

// The tags for `tags`: {OVIRT_VOL_INITIALIZING} or {MD_, PU_, IU_} in that
// order. kInvalidArgument (1000) for a non-canonical uuid or a slot outside
// 1..1947.
Result<std::vector<std::string>> BuildVolumeLvTags(const VolumeLvTags& tags);

// Parses the tags of one LV strictly (see above; order does not matter).
Result<VolumeLvTags> ParseVolumeLvTags(const std::vector<std::string>& tags);

// The IU_ tag of `image` in `state` (kReady, kRemoving or kZeroing).
// REQUIRES: state != kInitializing.
std::string ImageTag(std::string_view image, LvState state);

// Step 2 of volume creation: drop the initializing tag, add MD_/PU_/IU_ of
// `ready` (whose state must be kReady: kInvalidArgument otherwise).
Result<TagChange> FinishCreationChange(const VolumeLvTags& ready);

// Marks a ready volume for deletion: IU_<img> -> IU_<prefix><img> with the
// prefix of `target` (kRemoving or kZeroing). kFailedPrecondition if
// `current` is not kReady, kInvalidArgument for another target.
Result<TagChange> MarkForRemovalChange(const VolumeLvTags& current,
                                       LvState target);

// Replaces a stale PU_ tag (the SPM syncing it from the slot's PUUID).
Result<TagChange> ReparentChange(const VolumeLvTags& current,
                                 std::string_view new_parent);

// An LV as listed by lvs: its name and tags.
struct LvTagList {
  std::string name;
  std::vector<std::string> tags;
};

// The metadata slots owned by `lvs`, for FirstFreeSlot: the MD_ tag of every
// non-special LV that has one. A garbled MD_ tag is an error (753), never
// skipped: skipping it could hand its slot to a second volume.
Result<std::vector<int>> OccupiedSlots(const std::vector<LvTagList>& lvs);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_TAGS_H_
