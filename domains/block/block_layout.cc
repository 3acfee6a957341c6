#include "domains/block/block_layout.h"

#include <algorithm>
#include <string>

#include "domains/storage_errors.h"
#include "domains/volume_rules.h"

namespace sanpool::block {
namespace {

struct NamedLv {
  SpecialLv lv;
  std::string_view name;
};
constexpr NamedLv kNames[] = {
    {SpecialLv::kMetadata, "metadata"}, {SpecialLv::kIds, "ids"},
    {SpecialLv::kLeases, "leases"},     {SpecialLv::kInbox, "inbox"},
    {SpecialLv::kOutbox, "outbox"},     {SpecialLv::kXleases, "xleases"},
    {SpecialLv::kMaster, "master"},
};

bool IsLeaseAlignment(uint64_t alignment) {
  return alignment == kMiB || alignment == 2 * kMiB ||
         alignment == 4 * kMiB || alignment == 8 * kMiB;
}

}  // namespace

MetadataAreaHealth CheckMetadataArea(uint64_t mda_size, uint64_t mda_free) {
  // The free check multiplies in double, as oVirt's Python does.
  return {mda_size >= kMinVgMetadataAreaSize,
          static_cast<double>(mda_free) >=
              static_cast<double>(mda_size) * kMinVgMetadataFreeFraction};
}

std::string_view LvName(SpecialLv lv) {
  for (const NamedLv& n : kNames) {
    if (n.lv == lv) return n.name;
  }
  return "metadata";
}

bool IsSpecialLvName(std::string_view lv_name) {
  return std::any_of(std::begin(kNames), std::end(kNames),
                     [&](const NamedLv& n) { return n.name == lv_name; });
}

Result<std::vector<SpecialLvSpec>> SpecialLvsFor(uint64_t alignment) {
  if (!IsLeaseAlignment(alignment)) {
    return InvalidParameter("lease alignment " + std::to_string(alignment) +
                            " is not 1, 2, 4 or 8 MiB");
  }
  const uint64_t alignment_mib = alignment / kMiB;
  return std::vector<SpecialLvSpec>{
      {SpecialLv::kMetadata, "metadata", kMetadataLvSizeMib},
      {SpecialLv::kIds, "ids", kIdsLvSizeMib},
      {SpecialLv::kLeases, "leases", kLeasesSlots * alignment_mib},
      {SpecialLv::kInbox, "inbox", kMailboxLvSizeMib},
      {SpecialLv::kOutbox, "outbox", kMailboxLvSizeMib},
      {SpecialLv::kXleases, "xleases", kXleasesSlots * alignment_mib},
      {SpecialLv::kMaster, "master", kMasterLvSizeMib},
  };
}

uint64_t ExtentRoundedSize(uint64_t bytes) {
  return RoundUp(bytes, kExtentSize);
}

Result<uint64_t> MetadataSlotOffset(int slot) {
  if (slot < 0 || slot > kLastVolumeSlot) {
    return InvalidParameter("metadata slot " + std::to_string(slot) +
                            " is outside 0.." +
                            std::to_string(kLastVolumeSlot));
  }
  return kMetadataBaseV5 + static_cast<uint64_t>(slot) * kMetadataSlotSizeV5;
}

Result<uint64_t> VolumeLeaseOffset(int slot, uint64_t alignment) {
  if (slot < kFirstVolumeSlot || slot > kLastVolumeSlot) {
    return InvalidParameter("volume slot " + std::to_string(slot) +
                            " has no lease (1.." +
                            std::to_string(kLastVolumeSlot) + ")");
  }
  if (!IsLeaseAlignment(alignment)) {
    return InvalidParameter("lease alignment " + std::to_string(alignment) +
                            " is not 1, 2, 4 or 8 MiB");
  }
  return (kReservedLeases + static_cast<uint64_t>(slot)) * alignment;
}

Result<int> FirstFreeSlot(std::vector<int> occupied) {
  std::sort(occupied.begin(), occupied.end());
  int candidate = kFirstVolumeSlot;
  // Sorted walk: each occupied value equal to the candidate pushes it up;
  // the first value above it proves a gap.
  for (int slot : occupied) {
    if (slot < candidate) continue;
    if (slot > candidate) break;
    ++candidate;
  }
  if (candidate > kLastVolumeSlot) {
    return Status(Code::kResourceExhausted,
                  "all " + std::to_string(kLastVolumeSlot) +
                      " volume metadata slots are in use",
                  storage_code::kVolumeCreationError);
  }
  return candidate;
}

}  // namespace sanpool::block
