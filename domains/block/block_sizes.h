// Sizes of volume LVs on block domains (reference §2.4) and the thin
// provisioning defaults that decide when and how much a qcow2 LV grows
// (reference §5.1). Pure arithmetic; the LVM calls live in domains/block/lvm.h.
//
//   allocation (bytes, before LVM's rounding):
//     COW/SPARSE, no initial size   min(chunk, capacity)      chunk = 2560 MiB
//     COW/SPARSE, initial size      int(initial x 1.1)        qcow2 overhead
//     PREALLOCATED (RAW or COW)     initial size or capacity
//     RAW with an initial size      refused (kInvalidParameter, 1000)
//     initial size > max size       refused (kInvalidParameter, 1000)
//     RAW/SPARSE                    refused (kIncorrectType, 231)
//   lvcreate --size               round_up(allocation, MiB) / MiB  (MiB)
//   LVM then allocates whole 128 MiB extents (ExtentRoundedSize).
//   max size                      COW: round_up(capacity x 1.1, 128 MiB)
//                                 RAW: capacity
//
// The x 1.1 products are computed in IEEE double like oVirt's Python
// (`capacity * 1.1`), so results agree with oVirt's even where the double
// product is not the exact decimal one (none are known for 4 KiB-aligned
// sizes below 2^50; the mirroring keeps it so above).
//
// Thread-safety: pure functions and constants.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_SIZES_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_SIZES_H_

#include <cstdint>
#include <optional>

#include "base/status.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool::block {

inline constexpr double kCowOverheadFactor = 1.1;  // QCOW_OVERHEAD_FACTOR

// Thin provisioning defaults (irs:volume_utilization_chunk_mb and
// irs:volume_utilization_percent); during live storage migration the chunk
// is doubled.
inline constexpr uint64_t kDefaultChunkMib = 2560;
inline constexpr int kDefaultUtilizationPercent = 20;
inline constexpr int kReplicationChunkMultiplier = 2;

struct ThinProvisioning {
  uint64_t chunk_mib = kDefaultChunkMib;
  int utilization_percent = kDefaultUtilizationPercent;  // 0..99
};

struct AllocationRequest {
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  formats::Allocation allocation = formats::Allocation::kSparse;
  uint64_t capacity = 0;                 // bytes, as checked by volume_rules.h
  std::optional<uint64_t> initial_size;  // bytes
  uint64_t chunk_mib = kDefaultChunkMib;
};

// The largest an LV of this volume may grow (see the table above).
// REQUIRES: capacity <= 2^60 (the double product stays exact enough).
uint64_t MaxVolumeSize(uint64_t capacity, formats::VolumeFormat format);

// The bytes to allocate for a new volume LV (see the table above).
Result<uint64_t> VolumeAllocationSize(const AllocationRequest& request);

// The --size argument for lvcreate/lvextend, in MiB: bytes rounded up.
uint64_t LvSizeMib(uint64_t bytes);

// Thin provisioning on the VM host (reference §5.1), all in bytes:
// how far below the LV end a write raises the block threshold event,
//   watermark = (100 - percent) x chunk / 100          (2048 MiB by default)
uint64_t WatermarkLimit(const ThinProvisioning& config);
// the threshold to set, at least 1:  max(1, physical - watermark)
uint64_t BlockThreshold(uint64_t physical, const ThinProvisioning& config);
// the size to extend to: min(round_up(current + chunk, MiB),
//                            round_up(capacity x 1.1, MiB))
uint64_t NextVolumeSize(uint64_t current, uint64_t capacity,
                        const ThinProvisioning& config);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_SIZES_H_
