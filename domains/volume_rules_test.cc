#include "domains/volume_rules.h"

#include <catch2/catch.hpp>

#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using formats::Allocation;
using formats::VolumeFormat;

TEST_CASE("capacity must be positive, 512-aligned and below 8 EiB") {
  CHECK(CheckCapacity(0).status().storage_code() ==
        storage_code::kCreateVolumeSizeError);
  CHECK(CheckCapacity(-4096).status().storage_code() ==
        storage_code::kCreateVolumeSizeError);
  CHECK(CheckCapacity(1000).status().storage_code() ==
        storage_code::kInvalidParameter);
  CHECK(CheckCapacity(int64_t{1} << 62).ok());
  CHECK(CheckCapacity(static_cast<int64_t>(kMaxCapacity)).ok());
  CHECK(CheckCapacity(static_cast<int64_t>(kMaxCapacity) + 512)
            .status()
            .storage_code() == storage_code::kInvalidParameter);
  CHECK(CheckCapacity(INT64_MAX - 511).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("capacity is rounded up to 4 KiB") {
  CHECK(CheckCapacity(512).value() == 4096);
  CHECK(CheckCapacity(4096).value() == 4096);
  CHECK(CheckCapacity(4608).value() == 8192);
  CHECK(CheckCapacity(1 << 30).value() == 1 << 30);
}

TEST_CASE("size strings are plain decimal byte counts") {
  CHECK(ParseSizeString("1073741824", "size").value() == 1073741824);
  CHECK(ParseSizeString("-512", "size").value() == -512);
  for (const char* bad : {"", "-", "+5", " 5", "5 ", "1e9", "0x10", "1.5",
                          "99999999999999999999"}) {
    INFO(bad);
    CHECK(ParseSizeString(bad, "size").status().storage_code() ==
          storage_code::kInvalidParameter);
  }
}

TEST_CASE("format and allocation combinations") {
  VolumeRequest r;
  r.capacity = 1 << 20;
  for (auto f : {VolumeFormat::kRaw, VolumeFormat::kCow}) {
    for (auto a : {Allocation::kPreallocated, Allocation::kSparse}) {
      r.format = f;
      r.allocation = a;
      r.kind = DomainKind::kFile;
      CHECK(CheckVolumeRequest(r).ok());
      r.kind = DomainKind::kBlock;
      bool refused = f == VolumeFormat::kRaw && a == Allocation::kSparse;
      auto checked = CheckVolumeRequest(r);
      CHECK(checked.ok() == !refused);
      if (refused) {
        CHECK(checked.status().storage_code() == storage_code::kIncorrectType);
      }
    }
  }
}

TEST_CASE("a snapshot must be COW and at least as large as its parent") {
  VolumeRequest r{.format = VolumeFormat::kRaw,
                  .capacity = 1 << 20,
                  .has_parent = true,
                  .parent_capacity = 1 << 20};
  CHECK(CheckVolumeRequest(r).status().storage_code() ==
        storage_code::kIncorrectFormat);
  r.format = VolumeFormat::kCow;
  CHECK(CheckVolumeRequest(r).ok());
  r.parent_capacity = 2 << 20;
  CHECK(CheckVolumeRequest(r).status().storage_code() ==
        storage_code::kInvalidParameter);
}

TEST_CASE("initial size rules on file domains") {
  VolumeRequest r{.capacity = 1 << 20, .initial_size = 4096};
  r.format = VolumeFormat::kRaw;
  r.allocation = Allocation::kSparse;
  CHECK(CheckVolumeRequest(r).status().storage_code() ==
        storage_code::kInvalidParameter);
  r.format = VolumeFormat::kCow;
  CHECK(CheckVolumeRequest(r).status().storage_code() ==
        storage_code::kInvalidParameter);
  r.format = VolumeFormat::kRaw;
  r.allocation = Allocation::kPreallocated;
  auto ok = CheckVolumeRequest(r);
  REQUIRE(ok.ok());
  CHECK(ok->initial_size == 4096u);
  r.initial_size = (1 << 20) + 4096;
  CHECK_FALSE(CheckVolumeRequest(r).ok());
  r.initial_size = -1;
  CHECK_FALSE(CheckVolumeRequest(r).ok());
}

TEST_CASE("initial size on block domains is for COW sparse only") {
  VolumeRequest r{.kind = DomainKind::kBlock,
                  .format = VolumeFormat::kCow,
                  .allocation = Allocation::kSparse,
                  .capacity = 10 << 20,
                  .initial_size = 1000};
  auto ok = CheckVolumeRequest(r);
  REQUIRE(ok.ok());
  CHECK(ok->initial_size == 4096u);
  r.allocation = Allocation::kPreallocated;
  CHECK_FALSE(CheckVolumeRequest(r).ok());
}

}  // namespace
}  // namespace sanpool
