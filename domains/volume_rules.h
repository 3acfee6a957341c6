// Volume creation rules shared by file and block domains: which format /
// allocation combinations exist, how capacity and initial size are checked
// and rounded (reference §1.3, oVirt's Volume.create and
// sd.validateCreateVolumeParams).
//
//   capacity      > 0, a multiple of 512, at most kMaxCapacity; then rounded
//                 up to the next multiple of 4 KiB.
//   combinations  file: RAW/PREALLOCATED, RAW/SPARSE, COW/SPARSE,
//                 COW/PREALLOCATED. block: RAW/SPARSE is refused (an LV is
//                 always allocated) with kIncorrectType (231).
//   snapshot      a volume with a parent must be COW (kIncorrectFormat 202),
//                 its capacity at least the parent's.
//   initial size  file: refused for COW (qemu-img decides the allocation) and
//                 for RAW/SPARSE (nothing is allocated); accepted but unused
//                 for RAW/PREALLOCATED when <= capacity. block: only for
//                 COW/SPARSE, <= capacity. Refusals are kInvalidParameter.
//
// All refusals are kInvalidArgument carrying oVirt's storage code.
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_VOLUME_RULES_H_
#define SANPOOL_DOMAINS_VOLUME_RULES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/status.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint64_t kCapacityAlignment = 4096;
// 8 EiB (2^63) is qemu's limit (image sizes are int64); the largest capacity
// that stays below it after rounding up to 4 KiB.
inline constexpr uint64_t kMaxCapacity = (uint64_t{1} << 63) - kCapacityAlignment;

enum class DomainKind { kFile, kBlock };

// Parses a size sent as a decimal string of bytes (the wire format). Leading
// '+', whitespace, a sign or anything that is not a plain digit string is
// kInvalidArgument (1000); negative values are reported as such.
Result<int64_t> ParseSizeString(std::string_view text, std::string_view what);

// Checks a requested capacity (signed, so that negative wire values reach the
// check) and returns it rounded up to 4 KiB. Errors: 0 or negative ->
// kCreateVolumeSizeError (229); not a multiple of 512 or above kMaxCapacity ->
// kInvalidParameter (1000).
Result<uint64_t> CheckCapacity(int64_t capacity);

struct VolumeRequest {
  DomainKind kind = DomainKind::kFile;
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  formats::Allocation allocation = formats::Allocation::kSparse;
  int64_t capacity = 0;
  std::optional<int64_t> initial_size;
  bool has_parent = false;
  uint64_t parent_capacity = 0;  // when has_parent
};

struct CheckedVolumeRequest {
  uint64_t capacity = 0;                 // rounded up to 4 KiB
  std::optional<uint64_t> initial_size;  // rounded up to 4 KiB
};

// Applies every rule above; returns the rounded sizes.
Result<CheckedVolumeRequest> CheckVolumeRequest(const VolumeRequest& request);

// Rounds up to a multiple of `alignment` (a power of two). REQUIRES: no
// overflow (value <= UINT64_MAX - alignment).
constexpr uint64_t RoundUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_VOLUME_RULES_H_
