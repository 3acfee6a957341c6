// The extend service's storage operations over block domains (H9's
// domains/block): BlockExtender runs the SPM's lvextend through
// BlockVolumes::ExtendLv, BlockRefresher reloads this host's mapping
// through the Activator (spm/extender.h has the contracts).
//
//   BlockExtender extender([&](const std::string& sd) { return registry.Volumes(sd); });
//   BlockRefresher refresher(lvm_cache, activator);
//
// BlockExtender, batched (constructed with the LvmCache and Activator, as
// the agent does): MaxBatch() = kMaxBatch, and a batch of one VG costs one
// lvm process: LvmCache::LvExtendMany (lvm's shell; LVs already big enough
// need no command; one lvextend per LV only as a logged fallback when the
// shell protocol fails), then ONE `lvs <vg>` for the whole batch, then the
// SPM's own mapping of each LV is reloaded from that (a no-op where it is
// not mapped) and its size read from the cache. Per-volume errors are
// lvextend's (VG full: kResourceExhausted 504, missing LV: kNotFound 610).
//
// BlockExtender, unbatched (lookup only): one BlockVolumes::ExtendLv per
// volume, MaxBatch() = 1. ExtendLv is absolute and idempotent and
// refreshes the SPM's own mapping.
//
// Both: targets are rounded up to MiB (the mailbox's unit); a domain the
// lookup cannot give fails every volume with the lookup's error.
//
// BlockRefresher: another host changed the LV, so this host must re-read
// the VG's LVs before reloading the mapping. Refreshes of one VG are
// coalesced ("group commit"): a refresh joins the next re-read of its VG
// that has not started yet, or starts one when none is running; a re-read
// that started before a refresh arrived is never used for it (it may
// predate the change). So the replies that arrive together (one outbox
// read) cost one `lvs <vg>`, and a burst costs at most one re-read in
// flight plus one waiting. The re-read drops the cache's LVs of the VG and
// runs GetAllLvs once; then each caller reloads its table from the cache
// (Activator kFresh; a no-op when the LV is not mapped) and returns the LV
// size that re-read saw.
//
// Thread-safety: both are thread-safe (BlockVolumes, LvmCache and Activator
// are). Blocking: lvm and device-mapper calls.
#ifndef SANPOOL_SPM_BLOCK_EXTEND_H_
#define SANPOOL_SPM_BLOCK_EXTEND_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/activation.h"
#include "domains/block/block_volume.h"
#include "domains/block/lvm_cache.h"
#include "spm/extender.h"

namespace sanpool::spm {

// The open block domain `sd_uuid`'s volumes; kNotFound (358) when this
// host does not have it. The pointee must stay valid while extends run.
using BlockVolumesLookup =
    std::function<Result<block::BlockVolumes*>(const std::string& sd_uuid)>;

class BlockExtender final : public Extender {
 public:
  static constexpr size_t kMaxBatch = 64;

  // Unbatched: one ExtendLv per volume.
  explicit BlockExtender(BlockVolumesLookup lookup)
      : lookup_(std::move(lookup)) {}
  // Batched. `lvm` and `activator` (this host's) must outlive the extender.
  BlockExtender(BlockVolumesLookup lookup, lvm::LvmCache& lvm,
                block::Activator& activator)
      : lookup_(std::move(lookup)), lvm_(&lvm), activator_(&activator) {}

  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string& domain_uuid,
      const std::vector<VolumeTarget>& volumes) override;
  size_t MaxBatch() const override { return lvm_ ? kMaxBatch : 1; }

 private:
  std::vector<Result<uint64_t>> ExtendBatch(
      const std::string& vg, const std::vector<VolumeTarget>& volumes);

  const BlockVolumesLookup lookup_;
  lvm::LvmCache* const lvm_ = nullptr;
  block::Activator* const activator_ = nullptr;
};

struct BlockRefresherStats {
  uint64_t refreshes = 0;  // Refresh calls
  uint64_t rereads = 0;    // `lvs <vg>` re-reads they shared
};

class BlockRefresher final : public VolumeRefresher {
 public:
  // Both must outlive the refresher.
  BlockRefresher(lvm::LvmCache& lvm, block::Activator& activator)
      : lvm_(lvm), activator_(activator) {}

  // kElsewhere: the VG's LVs are re-read (one `lvs <vg>` shared by the
  // concurrent callers of a VG), then the mapping reloaded. kHere: this
  // host's LvmCache made the change and is current; the LV comes from it
  // (no VG re-read; an `lvs` of that LV only if the extend dropped it and
  // nothing has read it since).
  Result<uint64_t> Refresh(const mailbox::ExtendRequest& request,
                           Changed changed) override EXCLUDES(mu_);

  BlockRefresherStats stats() const EXCLUDES(mu_);

 private:
  // One re-read of a VG's LVs and the LV sizes it saw.
  struct Round {
    bool started = false;
    bool done = false;
    Status status;
    std::map<std::string, uint64_t> sizes;  // LV name -> bytes
  };
  struct VgRounds {
    std::shared_ptr<Round> running;
    std::shared_ptr<Round> next;  // not started; new callers join it
  };

  lvm::LvmCache& lvm_;
  block::Activator& activator_;
  mutable Mutex mu_;
  CondVar round_done_;
  std::map<std::string, VgRounds> vgs_ GUARDED_BY(mu_);
  BlockRefresherStats stats_ GUARDED_BY(mu_);
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_BLOCK_EXTEND_H_
