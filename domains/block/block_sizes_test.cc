#include "domains/block/block_sizes.h"

#include <catch2/catch.hpp>

#include "domains/sd_metadata.h"
#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

using formats::Allocation;
using formats::VolumeFormat;

constexpr uint64_t kGiB = 1024 * kMiB;

// Expected values below were computed with Python 3 from oVirt's formulas
// (utils.round(capacity * 1.1, size), int(initial_size * 1.1)).

TEST_CASE("COW max size is capacity x 1.1 rounded up to an extent") {
  CHECK(MaxVolumeSize(1 * kGiB, VolumeFormat::kCow) == 1207959552);
  CHECK(MaxVolumeSize(10 * kGiB, VolumeFormat::kCow) == 11811160064);
  CHECK(MaxVolumeSize(1280 * kMiB, VolumeFormat::kCow) == 1476395008);
  CHECK(MaxVolumeSize(4096, VolumeFormat::kCow) == 134217728);
  CHECK(MaxVolumeSize(100 * kGiB + 512, VolumeFormat::kCow) == 118245818368);
  CHECK(MaxVolumeSize(10 * kGiB, VolumeFormat::kRaw) == 10 * kGiB);
}

AllocationRequest Request(VolumeFormat format, Allocation allocation,
                          uint64_t capacity) {
  AllocationRequest r;
  r.format = format;
  r.allocation = allocation;
  r.capacity = capacity;
  return r;
}

TEST_CASE("a thin COW volume starts at one chunk, or its capacity if less") {
  auto r = Request(VolumeFormat::kCow, Allocation::kSparse, 50 * kGiB);
  CHECK(*VolumeAllocationSize(r) == 2560 * kMiB);
  r.capacity = 1 * kGiB;
  CHECK(*VolumeAllocationSize(r) == 1 * kGiB);
  r.capacity = 50 * kGiB;
  r.chunk_mib = 1024;
  CHECK(*VolumeAllocationSize(r) == 1024 * kMiB);
}

TEST_CASE("a thin COW volume with an initial size gets x 1.1") {
  auto r = Request(VolumeFormat::kCow, Allocation::kSparse, 10 * kGiB);
  r.initial_size = 1 * kGiB;
  CHECK(*VolumeAllocationSize(r) == 1181116006);
  r.initial_size = 3 * kGiB + 4096;
  CHECK(*VolumeAllocationSize(r) == 3543352524);
  r.initial_size = 0;  // oVirt: 0 means none
  CHECK(*VolumeAllocationSize(r) == 2560 * kMiB);
}

TEST_CASE("an initial size above the max size is refused") {
  auto r = Request(VolumeFormat::kCow, Allocation::kSparse, 1 * kGiB);
  r.initial_size = 1207959552;  // exactly the max size: accepted
  CHECK(VolumeAllocationSize(r).ok());
  r.initial_size = 1207959553;
  auto size = VolumeAllocationSize(r);
  REQUIRE_FALSE(size.ok());
  CHECK(size.status().storage_code() == storage_code::kInvalidParameter);
}

TEST_CASE("preallocated volumes take the initial size or the capacity") {
  auto r = Request(VolumeFormat::kRaw, Allocation::kPreallocated, 10 * kGiB);
  CHECK(*VolumeAllocationSize(r) == 10 * kGiB);
  r.format = VolumeFormat::kCow;
  CHECK(*VolumeAllocationSize(r) == 10 * kGiB);
  r.initial_size = 2 * kGiB;
  CHECK(*VolumeAllocationSize(r) == 2 * kGiB);
}

TEST_CASE("RAW with an initial size and RAW sparse are refused") {
  auto r = Request(VolumeFormat::kRaw, Allocation::kPreallocated, 10 * kGiB);
  r.initial_size = 1 * kGiB;
  auto size = VolumeAllocationSize(r);
  REQUIRE_FALSE(size.ok());
  CHECK(size.status().storage_code() == storage_code::kInvalidParameter);
  auto sparse = VolumeAllocationSize(
      Request(VolumeFormat::kRaw, Allocation::kSparse, 10 * kGiB));
  REQUIRE_FALSE(sparse.ok());
  CHECK(sparse.status().storage_code() == storage_code::kIncorrectType);
}

TEST_CASE("lvcreate sizes are whole MiB, rounded up") {
  CHECK(LvSizeMib(1181116006) == 1127);
  CHECK(LvSizeMib(kMiB) == 1);
  CHECK(LvSizeMib(kMiB + 1) == 2);
  CHECK(LvSizeMib(0) == 0);
}

TEST_CASE("thin provisioning defaults match the reference example") {
  ThinProvisioning config;
  CHECK(config.chunk_mib == 2560);
  CHECK(config.utilization_percent == 20);
  CHECK(WatermarkLimit(config) == 2048 * kMiB);
  // New 50 GiB thin disk: LV 2560 MiB, threshold 512 MiB; after extend
  // LV 5120 MiB, threshold 3072 MiB.
  CHECK(BlockThreshold(2560 * kMiB, config) == 512 * kMiB);
  uint64_t next = NextVolumeSize(2560 * kMiB, 50 * kGiB, config);
  CHECK(next == 5120 * kMiB);
  CHECK(BlockThreshold(next, config) == 3072 * kMiB);
  CHECK(BlockThreshold(1024 * kMiB, config) == 1);
  ThinProvisioning lsm{config.chunk_mib * kReplicationChunkMultiplier, 20};
  CHECK(WatermarkLimit(lsm) == 4096 * kMiB);
}

TEST_CASE("extension stops at capacity x 1.1 rounded to a MiB") {
  ThinProvisioning config;
  CHECK(NextVolumeSize(1 * kGiB, 1 * kGiB, config) == 1181745152);
  CHECK(NextVolumeSize(10 * kGiB, 10 * kGiB, config) == 11811160064);
  CHECK(NextVolumeSize(100, 50 * kGiB, config) == 2561 * kMiB);
}

}  // namespace
}  // namespace sanpool::block
