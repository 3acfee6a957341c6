// BlockVolumes: the volume operations of one block domain (reference §2.4,
// §2.8; doc/formats/block-domain.md "Creating/Deleting a volume"). The rules
// shared with file domains come from domains/volume_rules.h (sizes, formats)
// and domains/volume_chain.h (parents, delete preconditions, roles).
//
// Creation (crash-safe; Recover() undoes an interrupted one):
//   1. checks: ids, volume_rules, the parent (volume_chain), LV not there;
//   2. lvcreate <vol> with OVIRT_VOL_INITIALIZING, size per block_sizes.h;
//   3. mapped exclusively; qcow2 written with qemu-img on the device
//      (backing = parent's bare uuid, unsafe: the parent need not be mapped);
//   4. under the domain's slot lock: free slot = first gap in the MD_ tags,
//      one lvchange drops the initializing tag and adds MD_/PU_/IU_;
//   5. the volume's sanlock resource is formatted at (100 + slot) x
//      alignment of `leases` (when a Sanlock is given);
//   6. the slot's metadata is written: the COMMIT POINT (a tagged LV whose
//      slot is cleared is an interrupted create: Recover removes it; a
//      written slot is a complete volume);
//   7. a parent in the same image is marked INTERNAL (Recover repairs the
//      role when a crash skips this).
// A failure in 2-6 removes the LV (and clears the slot). Crash points
// (base/crash_point.h block.volume.create.*) sit after steps 2, 3, 6 and
// before the lvchange of step 4; block.volume.delete.* after the retag,
// after the first zeroed step and before the lvremove.
//
// Deletion: checks (volume_chain), ILLEGAL in the slot, IU_ retagged to
// IU__remove_me_ (or _remove_me_ZERO_ when zeroing was asked), then
//   * without zeroing: lvremove, slot cleared, parent back to LEAF;
//   * with zeroing: the call returns after the retag and a background job
//     zeroes the LV (`blkdiscard --zeroout` in 32 MiB steps, or O_DIRECT
//     writes of zeros where the device has no discard), discards it, then
//     lvremove and slot clear. The job is cancellable (Shutdown, or
//     CancelZeroing) and a cancelled or crashed job is resumed by Recover():
//     the LV keeps its extents until they are all zero, so they are never
//     handed to another volume before.
//
// ExtendLv(vol, MiB) is the SPM's extend: absolute, idempotent (no-op when
// the LV is already that big), followed by a local Refresh of the mapping.
// It returns the target in bytes, a size the LV now has at least (lvm
// rounds up to whole extents): the caller's hosts re-read the real size.
//
// SPM gating is the caller's. Blocking: lvm, qemu-img, direct I/O.
// Thread-safety: thread-safe; image locks (image_locks.h) serialize calls on
// one image, the slot lock serializes slot choice.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_VOLUME_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_VOLUME_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/cancel.h"
#include "base/process.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_sizes.h"
#include "domains/file/image_locks.h"
#include "domains/formats/volume_metadata.h"
#include "domains/qemu_img.h"
#include "lease/sanlock.h"

namespace sanpool::block {

using file_domain::ImageLocks;

struct CreateVolumeParams {
  std::string img_uuid;
  std::string vol_uuid;
  int64_t capacity = 0;
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  formats::Allocation allocation = formats::Allocation::kSparse;
  std::string disk_type = "DATA";
  std::string description;
  std::string src_img_uuid;  // parent (snapshot / template child)
  std::string src_vol_uuid;
  std::optional<int64_t> initial_size;
  formats::Legality legality = formats::Legality::kLegal;
  uint32_t sequence = 0;
  // Volumes of this domain that should be created as templates pass
  // role = kShared later through SetRole (oVirt's setVolumeType).
};

struct VolumeLease {
  std::string path;  // the domain's `leases` LV device
  uint64_t offset = 0;
};

struct VolumeInfo {
  formats::VolumeMetadata metadata;
  std::string uuid;
  uint64_t apparent_size = 0;  // LV size
  uint64_t true_size = 0;      // LV size
  std::string status;          // "OK" / "ILLEGAL"
  std::vector<std::string> children;
  int slot = 0;
  VolumeLease lease;
};

enum class PostZero { kNo, kYes };

struct BlockVolumesOptions {
  std::string blkdiscard = "blkdiscard";
  uint64_t zero_step_bytes = 32 * kMiB;
  uint64_t chunk_mib = kDefaultChunkMib;
  // When set, Create formats the volume's sanlock resource (step 5 of
  // doc/formats/block-domain.md "Creating a volume") after the commit; a
  // failure rolls the volume back. Must outlive the BlockVolumes.
  lease::Sanlock* sanlock = nullptr;
};

class BlockVolumes {
 public:
  // All references must outlive this object. Starts the zeroing worker.
  BlockVolumes(BlockDomain& domain, QemuImg& qemu_img, ImageLocks& locks,
               ProcessRunner& runner, BlockVolumesOptions options = {});
  // Cancels and joins the zeroing worker (jobs left are resumed by Recover
  // on the next start).
  ~BlockVolumes();

  Status Create(const CreateVolumeParams& params);
  Result<VolumeInfo> GetInfo(std::string_view img, std::string_view vol);
  Result<formats::VolumeMetadata> GetMetadata(std::string_view img,
                                              std::string_view vol);
  Status SetDescription(std::string_view img, std::string_view vol,
                        std::string_view description);
  Status SetLegality(std::string_view img, std::string_view vol,
                     formats::Legality legality);
  // oVirt's setVolumeType: LEAF/INTERNAL/SHARED (a template is SHARED).
  Status SetRole(std::string_view img, std::string_view vol,
                 formats::VolumeRole role);
  // Virtual size (qemu-img resize for COW; RAW grows its LV too). Smaller:
  // kInvalidArgument 232; equal: no-op. Leaf only (206).
  Status ExtendSize(std::string_view img, std::string_view vol,
                    int64_t new_capacity);
  // The SPM's extend: LV to at least `size_mib` MiB (absolute, idempotent),
  // then the local mapping is refreshed. kNotFound 610 for a missing LV.
  // Returns the LV size in bytes afterwards.
  Result<uint64_t> ExtendLv(std::string_view vol, uint64_t size_mib);
  // See the header comment. kNotFound 201 for a missing volume.
  Status Delete(std::string_view img, std::string_view vol, PostZero zero);
  Result<std::vector<std::string>> Children(std::string_view img,
                                            std::string_view vol);
  // The lease of a volume (leases LV, (100 + slot) x alignment).
  Result<VolumeLease> Lease(int slot);

  // Recovery at open on the writer (no operation running on the domain):
  // OVIRT_VOL_INITIALIZING LVs removed; tagged LVs whose slot is cleared
  // removed (create interrupted before its commit point); _remove_me_ LVs
  // removed, _remove_me_ZERO_ ones queued for zeroing; slots owned by no LV
  // cleared (so a free slot is always clear and a cleared slot under a
  // tagged LV always means "not committed"); a PU_ tag that disagrees with
  // the slot's PUUID synced to it; roles repaired (volume_chain
  // ExpectedRoles). A slot holding another image's metadata is reported,
  // not touched. Returns one line per action.
  Result<std::vector<std::string>> Recover();

  // Stops the running zeroing job and drops the queued ones; their LVs keep
  // the _remove_me_ZERO_ mark and are resumed by Recover later.
  void CancelZeroing();
  // Blocks until no zeroing job is queued or running (tests, shutdown).
  void WaitForZeroing() EXCLUDES(mu_);
  // Volumes whose zeroing is queued or running.
  std::vector<std::string> PendingZeroing() const EXCLUDES(mu_);
  // The last zeroing failure, OK if none (the LV then stays marked).
  Status LastZeroingError() const EXCLUDES(mu_);

  // For BlockImages, which holds the image lock itself. REQUIRES: the
  // caller holds the image lock of `img`.
  struct Volume {
    VolumeLv lv;
    formats::VolumeMetadata md;
  };
  // A ready volume of `img` (or a template any image may use); kNotFound
  // 201 otherwise. `any_image` accepts a volume of another image.
  Result<Volume> Find(std::string_view img, std::string_view vol,
                      bool any_image = false);
  Status DeleteLocked(std::string_view img, std::string_view vol,
                      PostZero zero);
  // Finishes the removal of an LV already retagged IU__remove_me_[ZERO_]:
  // lvremove and slot clear now, or queued for zeroing first.
  Status FinishRemoval(const std::string& vol, int slot, PostZero zero);

  // The mapped device of a volume LV (activates nothing).
  Result<std::string> DevicePath(std::string_view vol) const;

 private:
  Status CreateLocked(const CreateVolumeParams& params);
  Status CommitLocked(const CreateVolumeParams& params,
                      const formats::VolumeMetadata& md, int* slot)
      EXCLUDES(slot_mu_);
  Result<std::vector<std::string>> ChildrenLocked(std::string_view img,
                                                  std::string_view vol);
  Status RemoveLv(const std::string& vol, int slot) REQUIRES(slot_mu_);
  Status ZeroLv(const std::string& vol, const CancellationToken& cancel);
  void ZeroWorker() EXCLUDES(mu_);
  void QueueZeroing(const std::string& vol, int slot) EXCLUDES(mu_);

  BlockDomain& domain_;
  QemuImg& qemu_img_;
  ImageLocks& locks_;
  ProcessRunner& runner_;
  const BlockVolumesOptions options_;
  const std::string vg_;

  Mutex slot_mu_;  // slot choice + commit tagging

  mutable Mutex mu_;
  CondVar changed_;
  struct ZeroJob {
    std::string vol;
    int slot = 0;
  };
  std::deque<ZeroJob> zero_queue_ GUARDED_BY(mu_);
  std::string zero_running_ GUARDED_BY(mu_);
  Status zero_error_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  CancellationSource* zero_cancel_ GUARDED_BY(mu_) = nullptr;
  std::thread worker_;
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_VOLUME_H_
