#include "domains/block/block_layout.h"

#include <catch2/catch.hpp>

#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

TEST_CASE("special LVs come in oVirt's order with its sizes at 1 MiB") {
  auto lvs = SpecialLvsFor(kMiB);
  REQUIRE(lvs.ok());
  REQUIRE(lvs->size() == 7);
  const std::pair<std::string_view, uint64_t> expected[] = {
      {"metadata", 128}, {"ids", 8},       {"leases", 2048}, {"inbox", 16},
      {"outbox", 16},    {"xleases", 1024}, {"master", 1024}};
  for (size_t i = 0; i < 7; ++i) {
    CHECK((*lvs)[i].name == expected[i].first);
    CHECK((*lvs)[i].size_mib == expected[i].second);
    CHECK(LvName((*lvs)[i].lv) == expected[i].first);
  }
}

TEST_CASE("lease LVs scale with the alignment, the others do not") {
  auto lvs = SpecialLvsFor(8 * kMiB);
  REQUIRE(lvs.ok());
  CHECK((*lvs)[1].size_mib == 8);      // ids
  CHECK((*lvs)[2].size_mib == 16384);  // leases: 2048 slots x 8 MiB
  CHECK((*lvs)[5].size_mib == 8192);   // xleases: 1024 slots x 8 MiB
}

TEST_CASE("an alignment that is not 1/2/4/8 MiB is refused") {
  for (uint64_t bad : {uint64_t{0}, uint64_t{512}, 3 * kMiB, 16 * kMiB}) {
    auto lvs = SpecialLvsFor(bad);
    REQUIRE_FALSE(lvs.ok());
    CHECK(lvs.status().storage_code() == storage_code::kInvalidParameter);
  }
}

TEST_CASE("special LV names are recognised, volume names are not") {
  CHECK(IsSpecialLvName("metadata"));
  CHECK(IsSpecialLvName("xleases"));
  CHECK(IsSpecialLvName("master"));
  CHECK_FALSE(IsSpecialLvName("9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d"));
  CHECK_FALSE(IsSpecialLvName("Metadata"));
}

TEST_CASE("LVM allocates whole 128 MiB extents") {
  CHECK(ExtentRoundedSize(0) == 0);
  CHECK(ExtentRoundedSize(8 * kMiB) == 128 * kMiB);
  CHECK(ExtentRoundedSize(128 * kMiB) == 128 * kMiB);
  CHECK(ExtentRoundedSize(128 * kMiB + 1) == 256 * kMiB);
}

TEST_CASE("V5 metadata slots start at 1 MiB, 8 KiB apart") {
  CHECK(*MetadataSlotOffset(0) == 1048576);
  CHECK(*MetadataSlotOffset(1) == 1056768);
  CHECK(*MetadataSlotOffset(100) == 1048576 + 819200);
  CHECK(*MetadataSlotOffset(1947) == 16998400);
  // The last slot's 512 bytes lie inside the area zeroed at creation.
  CHECK(*MetadataSlotOffset(kLastVolumeSlot) + 512 <= kReservedMetadataSize);
  CHECK_FALSE(MetadataSlotOffset(-1).ok());
  CHECK_FALSE(MetadataSlotOffset(1948).ok());
}

TEST_CASE("volume leases sit at (100 + slot) x alignment") {
  CHECK(*VolumeLeaseOffset(1, kMiB) == 101 * kMiB);
  CHECK(*VolumeLeaseOffset(1947, kMiB) == 2047 * kMiB);
  CHECK(*VolumeLeaseOffset(5, 4 * kMiB) == 420 * kMiB);
  CHECK(SdmLeaseOffset(kMiB) == kMiB);
  CHECK(SdmLeaseOffset(2 * kMiB) == 2 * kMiB);
  // The last volume lease ends exactly at the end of the leases LV.
  CHECK(*VolumeLeaseOffset(kLastVolumeSlot, kMiB) + kMiB ==
        kLeasesSlots * kMiB);
  CHECK_FALSE(VolumeLeaseOffset(0, kMiB).ok());
  CHECK_FALSE(VolumeLeaseOffset(1948, kMiB).ok());
  CHECK_FALSE(VolumeLeaseOffset(1, 3 * kMiB).ok());
}

TEST_CASE("the free slot is the first gap in the MD_ tags") {
  CHECK(*FirstFreeSlot({}) == 1);
  CHECK(*FirstFreeSlot({1, 2, 3}) == 4);
  CHECK(*FirstFreeSlot({1, 3}) == 2);
  CHECK(*FirstFreeSlot({3, 1, 1, 2}) == 4);  // unsorted, duplicated
  CHECK(*FirstFreeSlot({2, 3}) == 1);
  CHECK(*FirstFreeSlot({0, -4, 5000}) == 1);  // out of range: ignored
}

TEST_CASE("a domain with every slot taken refuses a new volume") {
  std::vector<int> all;
  for (int s = 1; s <= kLastVolumeSlot; ++s) all.push_back(s);
  auto slot = FirstFreeSlot(all);
  REQUIRE_FALSE(slot.ok());
  CHECK(slot.status().code() == Code::kResourceExhausted);
  all.pop_back();
  CHECK(*FirstFreeSlot(all) == kLastVolumeSlot);
}

TEST_CASE("VG metadata area alerts follow oVirt's thresholds") {
  MetadataAreaHealth fresh = CheckMetadataArea(128 * kMiB, 127 * kMiB);
  CHECK(fresh.mda_valid);
  CHECK(fresh.mda_threshold);
  CHECK(CheckMetadataArea(64 * kMiB, 64 * kMiB).mda_valid);
  CHECK_FALSE(CheckMetadataArea(64 * kMiB - 512, 64 * kMiB).mda_valid);
  // 20 % of 128 MiB is 26843545.6 bytes.
  CHECK(CheckMetadataArea(128 * kMiB, 26843546).mda_threshold);
  CHECK_FALSE(CheckMetadataArea(128 * kMiB, 26843545).mda_threshold);
}

}  // namespace
}  // namespace sanpool::block
