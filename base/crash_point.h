// Crash points: named places in multi-step storage operations where a crash
// test can kill the agent, to prove that recovery leaves either the whole
// operation or nothing of it.
//
//   CrashPoint(crash_point::kFileVolumeCreateAfterMeta);
//
// kills the process with SIGKILL (no destructors, no flushing of user-space
// buffers, exactly like an OOM kill or `kill -9`) when the environment
// variable SANPOOL_CRASH_POINT holds that exact name. The variable is read
// once, when the program starts (static initialization); changing it later
// has no effect. When it is unset or empty a crash point costs one load and
// one well-predicted branch, so the calls stay in release builds.
//
// Before dying the process writes one line to stderr,
//   "sanpool: crash point <name> reached, killing the process\n"
// with write(2) (async-signal-safe, unbuffered), so a test can tell the
// intended death from an accidental one.
//
// Each point is placed *after* the step it is named for has returned
// successfully (or *before* the step for "before_" points). Every point is
// listed below and in kAllCrashPoints; IsKnownCrashPoint() lets the agent
// refuse a misspelled SANPOOL_CRASH_POINT instead of silently never crashing.
//
// Thread-safety: CrashPoint may be called from any thread.
#ifndef SANPOOL_BASE_CRASH_POINT_H_
#define SANPOOL_BASE_CRASH_POINT_H_

#include <array>
#include <string_view>

namespace sanpool {

namespace crash_point {

// The environment variable naming the armed point.
inline constexpr char kEnvVar[] = "SANPOOL_CRASH_POINT";

// File volume create (domains/file/file_volume.cc), in protocol order.
// The empty data file exists.
inline constexpr std::string_view kFileVolumeCreateAfterData =
    "file.volume.create.after_data";
// qemu-img create has formatted the data file.
inline constexpr std::string_view kFileVolumeCreateAfterQemuImg =
    "file.volume.create.after_qemu_img";
// The .meta is written: the commit point.
inline constexpr std::string_view kFileVolumeCreateAfterMeta =
    "file.volume.create.after_meta";
// The .lease file exists.
inline constexpr std::string_view kFileVolumeCreateAfterLease =
    "file.volume.create.after_lease";
// The new volume is complete; its parent is still LEAF.
inline constexpr std::string_view kFileVolumeCreateBeforeParentInternal =
    "file.volume.create.before_parent_internal";

// File volume delete (domains/file/file_volume.cc).
// The .meta says ILLEGAL and has no parent.
inline constexpr std::string_view kFileVolumeDeleteAfterIllegal =
    "file.volume.delete.after_illegal";
// The data file is removed.
inline constexpr std::string_view kFileVolumeDeleteAfterData =
    "file.volume.delete.after_data";
// The .lease is removed (only the .meta is left).
inline constexpr std::string_view kFileVolumeDeleteAfterLease =
    "file.volume.delete.after_lease";

// Image delete (domains/file/file_image.cc): the image dir was renamed to
// its _remove_me_ name.
inline constexpr std::string_view kFileImageDeleteAfterRename =
    "file.image.delete.after_rename";

// File domain create (domains/file/file_domain.cc).
// dom_md/ with its special files and images/ exist, nothing synced yet.
inline constexpr std::string_view kFileDomainCreateAfterTree =
    "file.domain.create.after_tree";
// The tree is durable; dom_md/metadata (the commit point) is not written.
inline constexpr std::string_view kFileDomainCreateBeforeMetadata =
    "file.domain.create.before_metadata";

// Block volume create (domains/block/block_volume.cc), in protocol order
// (doc/formats/block-domain.md "Creating a volume").
// The LV exists, tagged OVIRT_VOL_INITIALIZING only.
inline constexpr std::string_view kBlockVolumeCreateAfterLvcreate =
    "block.volume.create.after_lvcreate";
// qemu-img create has written the qcow2 header on the mapped LV (COW only).
inline constexpr std::string_view kBlockVolumeCreateAfterQemuImg =
    "block.volume.create.after_qemu_img";
// The slot is chosen (slot lock held); the LV still has only the
// initializing tag.
inline constexpr std::string_view kBlockVolumeCreateBeforeTagCommit =
    "block.volume.create.before_tag_commit";
// The slot's metadata is written: the commit point (the lease is already
// formatted; only the parent's INTERNAL mark may be missing).
inline constexpr std::string_view kBlockVolumeCreateAfterSlot =
    "block.volume.create.after_slot";

// Block volume delete (domains/block/block_volume.cc).
// IU_ is retagged IU__remove_me_[ZERO_]<img> (the slot says ILLEGAL).
inline constexpr std::string_view kBlockVolumeDeleteAfterRetag =
    "block.volume.delete.after_retag";
// The zeroing job has zeroed its first step of the LV, not the rest.
inline constexpr std::string_view kBlockVolumeDeleteMidZeroing =
    "block.volume.delete.mid_zeroing";
// Right before the lvremove of a marked (and, if asked, zeroed) LV.
inline constexpr std::string_view kBlockVolumeDeleteBeforeLvremove =
    "block.volume.delete.before_lvremove";

inline constexpr std::array<std::string_view, 18> kAllCrashPoints = {
    kFileVolumeCreateAfterData,
    kFileVolumeCreateAfterQemuImg,
    kFileVolumeCreateAfterMeta,
    kFileVolumeCreateAfterLease,
    kFileVolumeCreateBeforeParentInternal,
    kFileVolumeDeleteAfterIllegal,
    kFileVolumeDeleteAfterData,
    kFileVolumeDeleteAfterLease,
    kFileImageDeleteAfterRename,
    kFileDomainCreateAfterTree,
    kFileDomainCreateBeforeMetadata,
    kBlockVolumeCreateAfterLvcreate,
    kBlockVolumeCreateAfterQemuImg,
    kBlockVolumeCreateBeforeTagCommit,
    kBlockVolumeCreateAfterSlot,
    kBlockVolumeDeleteAfterRetag,
    kBlockVolumeDeleteMidZeroing,
    kBlockVolumeDeleteBeforeLvremove,
};

}  // namespace crash_point

namespace crash_point_internal {
// SANPOOL_CRASH_POINT as read at program start; empty when unset.
extern const std::string_view armed;
// Writes the stderr line and kills the process with SIGKILL if `name` equals
// `armed_name` (non-empty); returns otherwise. Async-signal-safe, so it may
// run in a forked child (the unit test does).
void CrashIfArmed(std::string_view armed_name, std::string_view name);
}  // namespace crash_point_internal

// Kills the process with SIGKILL if SANPOOL_CRASH_POINT names `name`.
inline void CrashPoint(std::string_view name) {
  if (crash_point_internal::armed.empty()) [[likely]] return;
  crash_point_internal::CrashIfArmed(crash_point_internal::armed, name);
}

// The armed point ("" when none).
std::string_view ArmedCrashPoint();

// Whether `name` is one of kAllCrashPoints.
bool IsKnownCrashPoint(std::string_view name);

}  // namespace sanpool

#endif  // SANPOOL_BASE_CRASH_POINT_H_
