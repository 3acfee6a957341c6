// The fixed layout of an oVirt V5 block storage domain: which special LVs a
// domain's VG holds, their sizes and creation order, where things live inside
// the `metadata` and `leases` LVs, and how a new volume picks its metadata
// slot. doc/formats/block-domain.md has the prose; reference §2.1, §2.2, §2.5.
//
//   VG name = sdUUID, extent size 128 MiB, 128 MiB of LVM metadata per PV.
//   Special LVs, created in this order (sizes requested from lvcreate, LVM
//   rounds each up to whole extents):
//     metadata  128 MiB               first, on the VG-metadata PV, extent 0
//     ids         8 MiB               sanlock lockspace
//     leases   2048 x alignment MiB   sanlock resources (SDM, volume leases)
//     inbox      16 MiB               mailbox
//     outbox     16 MiB               mailbox
//     xleases  1024 x alignment MiB   external (VM) leases
//     master   1024 MiB               ext3 master file system
//
//   metadata LV (V5):  [0, 1 MiB)   old V4 area, zeroed, never used
//                      1 MiB + slot x 8 KiB: 512 bytes of volume metadata
//                      slot 0 is reserved; volumes use slots 1..1947
//                      the first 17 MiB are zeroed at domain creation
//   leases LV:         lease slot k at k x alignment; 0 legacy SPM, 1 SDM,
//                      2..99 reserved, volume in metadata slot s at
//                      (100 + s) x alignment. 2048 lease slots bound the
//                      volume slots to 1..1947.
//
// Thread-safety: pure functions and constants.
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_LAYOUT_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_LAYOUT_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/sd_metadata.h"

namespace sanpool::block {

// VG (reference §2.1).
inline constexpr uint64_t kExtentSize = 128 * kMiB;          // sc.VG_EXTENT_SIZE
inline constexpr uint64_t kPvMetadataSize = 128 * kMiB;      // VG_METADATASIZE
inline constexpr uint64_t kMinVgSize = 10ULL * 1024 * kMiB;  // MINIMALVGSIZE
inline constexpr std::string_view kDomainVgTag = "RHAT_storage_domain";
inline constexpr std::string_view kUnreadyDomainVgTag =
    "RHAT_storage_domain_UNREADY";

// Health of the VG metadata area (blockSD.metadataValidity), reported by
// getStats and as pool alerts: `mda_valid` false (alert 614) when the area is
// below half the 128 MiB oVirt creates, `mda_threshold` false (alert 613)
// when less than 20 % of it is free.
inline constexpr uint64_t kMinVgMetadataAreaSize = kPvMetadataSize / 2;
inline constexpr double kMinVgMetadataFreeFraction = 0.2;
struct MetadataAreaHealth {
  bool mda_valid = true;
  bool mda_threshold = true;
};
// `mda_size`, `mda_free`: vgs's vg_mda_size and vg_mda_free in bytes.
MetadataAreaHealth CheckMetadataArea(uint64_t mda_size, uint64_t mda_free);

// Special LVs (reference §2.2), in creation order.
enum class SpecialLv { kMetadata, kIds, kLeases, kInbox, kOutbox, kXleases, kMaster };

struct SpecialLvSpec {
  SpecialLv lv;
  std::string_view name;  // LV name inside the VG
  uint64_t size_mib;      // as passed to lvcreate --size <N>m
};

inline constexpr uint64_t kMetadataLvSizeMib = 128;  // METADATA_LV_SIZE_MB
inline constexpr uint64_t kIdsLvSizeMib = 8;
inline constexpr uint64_t kMailboxLvSizeMib = 16;     // inbox and outbox
inline constexpr uint64_t kMasterLvSizeMib = 1024;    // MASTER_LV_SIZE_MB
inline constexpr uint64_t kLeasesSlots = 2048;        // sd.LEASES_SLOTS
inline constexpr uint64_t kXleasesSlots = 1024;       // sd.XLEASES_SLOTS

// Bytes zeroed at creation: metadata LV head (V4 area + V5 slots) and the
// mailbox areas of inbox/outbox (4 KiB x 250 hosts).
inline constexpr uint64_t kReservedMetadataSize = 17 * kMiB;
inline constexpr uint64_t kReservedMailboxSize = 4096 * 250;

std::string_view LvName(SpecialLv lv);
// True for the seven names above: such LVs are never volumes.
bool IsSpecialLvName(std::string_view lv_name);

// The special LVs in creation order for lease `alignment` (1, 2, 4 or 8 MiB,
// see AlignmentFor in domains/sd_metadata.h). kInvalidArgument (1000) for
// another alignment.
Result<std::vector<SpecialLvSpec>> SpecialLvsFor(uint64_t alignment);

// Bytes LVM really allocates for a request of `bytes`: whole extents.
// REQUIRES: bytes <= UINT64_MAX - kExtentSize.
uint64_t ExtentRoundedSize(uint64_t bytes);

// Metadata LV slots (reference §2.5, V5 only).
inline constexpr uint64_t kMetadataBaseV5 = kMiB;    // METADATA_BASE_V5
inline constexpr uint64_t kMetadataSlotSizeV5 = 8192;
inline constexpr int kFirstVolumeSlot = 1;           // slot 0: reserved
inline constexpr uint64_t kReservedLeases = 100;     // sd.RESERVED_LEASES
inline constexpr uint64_t kSdmLeaseSlot = 1;
// The last slot whose volume lease still fits in the leases LV.
inline constexpr int kLastVolumeSlot =
    static_cast<int>(kLeasesSlots - kReservedLeases - 1);  // 1947

// Byte offset of `slot`'s volume metadata in the metadata LV. Slot 0 (the
// reserved one) is accepted so tools can inspect it. kInvalidArgument (1000)
// outside 0..kLastVolumeSlot.
Result<uint64_t> MetadataSlotOffset(int slot);

// Byte offset of the volume lease of the volume in `slot` inside the leases
// LV: (100 + slot) x alignment. kInvalidArgument (1000) for a slot outside
// kFirstVolumeSlot..kLastVolumeSlot.
Result<uint64_t> VolumeLeaseOffset(int slot, uint64_t alignment);

// Offset of the SDM (SPM) lease in the leases LV: 1 x alignment.
constexpr uint64_t SdmLeaseOffset(uint64_t alignment) {
  return kSdmLeaseSlot * alignment;
}

// The slot for a new volume: the first slot >= kFirstVolumeSlot that no
// `occupied` entry names (the MD_ tags of the domain's initialized,
// non-special LVs; any order, duplicates allowed, out-of-range values
// ignored). kResourceExhausted (205) when slots 1..1947 are all taken.
Result<int> FirstFreeSlot(std::vector<int> occupied);

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_LAYOUT_H_
