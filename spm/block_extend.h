// The extend service's storage operations over block domains (H9's
// domains/block): BlockExtender runs the SPM's lvextend through
// BlockVolumes::ExtendLv, BlockRefresher reloads this host's mapping
// through the Activator (spm/extender.h has the contracts).
//
//   BlockExtender extender([&](const std::string& sd) { return registry.Volumes(sd); });
//   BlockRefresher refresher(lvm_cache, activator);
//
// BlockExtender: one ExtendLv per volume, one after the other (lvextend
// takes one LV; lvm serialises within the VG anyway). ExtendLv is absolute
// and idempotent and refreshes the SPM's own mapping. Targets are rounded
// up to MiB (the mailbox's unit). A domain the lookup cannot give fails
// every volume with the lookup's error.
//
// BlockRefresher: another host changed the LV, so this host's LVM cache of
// the VG's LVs is dropped first (one `lvs <vg>` per refresh, shared by
// concurrent refreshes of the VG), then the table is reloaded from the new
// segments (a no-op when the LV is not mapped here) and the LV size read.
//
// Thread-safety: both are thread-safe (BlockVolumes, LvmCache and Activator
// are). Blocking: lvm and device-mapper calls.
#ifndef SANPOOL_SPM_BLOCK_EXTEND_H_
#define SANPOOL_SPM_BLOCK_EXTEND_H_

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
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
  explicit BlockExtender(BlockVolumesLookup lookup)
      : lookup_(std::move(lookup)) {}

  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string& domain_uuid,
      const std::vector<VolumeTarget>& volumes) override;

 private:
  const BlockVolumesLookup lookup_;
};

class BlockRefresher final : public VolumeRefresher {
 public:
  // Both must outlive the refresher.
  BlockRefresher(lvm::LvmCache& lvm, block::Activator& activator)
      : lvm_(lvm), activator_(activator) {}

  Result<uint64_t> Refresh(const mailbox::ExtendRequest& request) override;

 private:
  lvm::LvmCache& lvm_;
  block::Activator& activator_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_BLOCK_EXTEND_H_
