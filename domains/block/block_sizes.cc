#include "domains/block/block_sizes.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "domains/block/block_layout.h"
#include "domains/sd_metadata.h"
#include "domains/storage_errors.h"
#include "domains/volume_rules.h"

namespace sanpool::block {
namespace {

using formats::Allocation;
using formats::VolumeFormat;

// oVirt's utils.round(n, size) on the float n = value * 1.1:
// a = n + size - 1; a - a % size, evaluated in double.
uint64_t RoundUpTimesOverhead(uint64_t value, uint64_t size) {
  double n = static_cast<double>(value) * kCowOverheadFactor;
  double a = n + static_cast<double>(size) - 1;
  return static_cast<uint64_t>(a - std::fmod(a, static_cast<double>(size)));
}

}  // namespace

uint64_t MaxVolumeSize(uint64_t capacity, VolumeFormat format) {
  if (format == VolumeFormat::kRaw) return capacity;
  return RoundUpTimesOverhead(capacity, kExtentSize);
}

Result<uint64_t> VolumeAllocationSize(const AllocationRequest& request) {
  const bool raw = request.format == VolumeFormat::kRaw;
  const bool sparse = request.allocation == Allocation::kSparse;
  if (raw && sparse) {
    return Status(Code::kInvalidArgument,
                  "RAW SPARSE volumes are not supported on block domains",
                  storage_code::kIncorrectType);
  }
  // oVirt treats an initial size of 0 as "not given".
  const uint64_t initial = request.initial_size.value_or(0);
  if (initial != 0) {
    if (raw) {
      return InvalidParameter("initial size is not supported for RAW volumes");
    }
    uint64_t max_size = MaxVolumeSize(request.capacity, VolumeFormat::kCow);
    if (initial > max_size) {
      return InvalidParameter("initial size " + std::to_string(initial) +
                              " is bigger than the max size " +
                              std::to_string(max_size));
    }
  }
  if (!sparse) return initial != 0 ? initial : request.capacity;
  if (initial != 0) {
    return static_cast<uint64_t>(static_cast<double>(initial) *
                                 kCowOverheadFactor);
  }
  return std::min(request.chunk_mib * kMiB, request.capacity);
}

uint64_t LvSizeMib(uint64_t bytes) { return RoundUp(bytes, kMiB) / kMiB; }

uint64_t WatermarkLimit(const ThinProvisioning& config) {
  const uint64_t percent = static_cast<uint64_t>(
      std::clamp(config.utilization_percent, 0, 100));
  return (100 - percent) * config.chunk_mib * kMiB / 100;
}

uint64_t BlockThreshold(uint64_t physical, const ThinProvisioning& config) {
  const uint64_t watermark = WatermarkLimit(config);
  return physical > watermark + 1 ? physical - watermark : 1;
}

uint64_t NextVolumeSize(uint64_t current, uint64_t capacity,
                        const ThinProvisioning& config) {
  const uint64_t next = RoundUp(current + config.chunk_mib * kMiB, kMiB);
  return std::min(next, RoundUpTimesOverhead(capacity, kMiB));
}

}  // namespace sanpool::block
